"""Models of the Django workload, after the mitxonline seed: programs, courses, course runs with
products and enrollment modes, learners' enrollments, grades and program enrollments."""
from django.db import models


class Department(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        app_label = "courses"
        ordering = ["name"]


class Program(models.Model):
    readable_id = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=200)

    class Meta:
        app_label = "courses"


class Course(models.Model):
    readable_id = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    program = models.ForeignKey(Program, null=True, on_delete=models.SET_NULL, related_name="courses")
    departments = models.ManyToManyField(Department, related_name="courses")

    class Meta:
        app_label = "courses"


class EnrollmentMode(models.Model):
    mode_slug = models.CharField(max_length=32, unique=True)
    mode_display_name = models.CharField(max_length=64)

    class Meta:
        app_label = "courses"
        ordering = ["mode_slug"]


class CourseRun(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="courseruns")
    courseware_id = models.CharField(max_length=128, unique=True)
    run_tag = models.CharField(max_length=16)
    start_date = models.DateField()
    end_date = models.DateField()
    is_self_paced = models.BooleanField(default=False)
    enrollment_modes = models.ManyToManyField(EnrollmentMode, related_name="runs")

    class Meta:
        app_label = "courses"


class Product(models.Model):
    course_run = models.ForeignKey(CourseRun, on_delete=models.CASCADE, related_name="products")
    description = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    is_active = models.BooleanField(default=True)

    class Meta:
        app_label = "courses"
        ordering = ["id"]


class Learner(models.Model):
    username = models.CharField(max_length=64, unique=True)
    email = models.CharField(max_length=128)
    legal_name = models.CharField(max_length=128)

    class Meta:
        app_label = "courses"


class CourseRunEnrollment(models.Model):
    user = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="enrollments")
    run = models.ForeignKey(CourseRun, on_delete=models.CASCADE, related_name="enrollments")
    enrollment_mode = models.CharField(max_length=32)
    active = models.BooleanField(default=True)
    created_on = models.DateTimeField()

    class Meta:
        app_label = "courses"


class CourseRunGrade(models.Model):
    user = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="grades")
    course_run = models.ForeignKey(CourseRun, on_delete=models.CASCADE, related_name="grades")
    grade = models.DecimalField(max_digits=4, decimal_places=3)
    letter_grade = models.CharField(max_length=2)
    passed = models.BooleanField()

    class Meta:
        app_label = "courses"


class ProgramEnrollment(models.Model):
    user = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="program_enrollments")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="enrollments")
    enrollment_mode = models.CharField(max_length=32)
    active = models.BooleanField(default=True)

    class Meta:
        app_label = "courses"


ALL = [Department, Program, Course, EnrollmentMode, CourseRun, Product, Learner,
       CourseRunEnrollment, CourseRunGrade, ProgramEnrollment]
