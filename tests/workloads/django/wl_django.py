#!/usr/bin/python3
"""Django 3.2 + Django REST Framework workload (psycopg2, simple protocol, literal keys).

    wl_django.py PORT DB setup
    wl_django.py PORT DB ENDPOINT nplus1|optimized

Modelled on the mitxonline pull request in shared/seeds/: course runs with products and
enrollment modes, a course catalog, a learner's enrollments (run -> course -> program, a grade
per enrollment) and a learner's program enrollments. Each endpoint runs a fixed list of
"requests" (learner ids as a session cookie would give them, not read from the database) and
prints one JSON line per request, rendered with DRF's JSONRenderer. `nplus1` is the code a
new user writes (nested serializers, SerializerMethodField with .count()/.first()/filter());
`optimized` is the same endpoint fixed by hand (select_related, prefetch_related, Prefetch,
annotate), and prints byte for byte the same.

The last line on stderr is `WLSTATS {"wall": s, "sent": n}`: wall time of the endpoint (the
connection is opened before) and the statements Django sent. stdout is what gets compared.
"""
import datetime
import decimal
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

REF_DATE = datetime.date(2024, 9, 1)      # the catalog's "today"
N_COURSES = 120
RUNS_PER_COURSE = 3
N_LEARNERS = 500
# The learners whose requests the enrollment endpoints serve (distinct: 97 is prime to 500).
REQUEST_USERS = [1 + (k * 97) % N_LEARNERS for k in range(40)]


def configure(port, db):
    settings.configure(
        DEBUG=False,
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql", "NAME": db, "USER": "postgres",
            "HOST": "127.0.0.1", "PORT": str(port), "CONN_MAX_AGE": 0,
            "OPTIONS": {"connect_timeout": 10}}},
        INSTALLED_APPS=["courses", "rest_framework"],
        USE_TZ=True, TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
    )
    django.setup()


# ---------------------------------------------------------------------------------------------
# Data: deterministic formulas, no randomness.

def setup():
    from django.db import connection
    from courses import models as m

    with connection.cursor() as cur:
        for model in reversed(m.ALL):
            cur.execute('DROP TABLE IF EXISTS "%s" CASCADE' % model._meta.db_table)
        for t in ("courses_course_departments", "courses_courserun_enrollment_modes"):
            cur.execute('DROP TABLE IF EXISTS "%s" CASCADE' % t)
    with connection.schema_editor() as editor:
        for model in m.ALL:
            editor.create_model(model)

    names = ["Biology", "Chemistry", "Computer Science", "Economics", "History", "Mathematics",
             "Physics", "Writing"]
    depts = m.Department.objects.bulk_create([m.Department(name=n) for n in names])
    programs = m.Program.objects.bulk_create(
        [m.Program(readable_id="program-v1:MITx+P%02d" % i, title="Program %d: %s track" % (i, names[i % 8]))
         for i in range(1, 13)])
    courses = m.Course.objects.bulk_create(
        [m.Course(readable_id="course-v1:MITx+C%03d" % i, title="Course %03d (%s)" % (i, names[(i * 3) % 8]),
                  program=(programs[(i - 1) % 13] if (i - 1) % 13 < 12 else None))
         for i in range(1, N_COURSES + 1)])
    CD = m.Course.departments.through
    cd = []
    for i, c in enumerate(courses, 1):
        ds = {i % 8}
        if i % 3 == 0:
            ds.add((i * 5) % 8)
        if i % 7 == 0:
            ds.add((i * 3 + 1) % 8)
        cd += [CD(course_id=c.id, department_id=depts[d].id) for d in sorted(ds)]
    CD.objects.bulk_create(cd)
    modes = m.EnrollmentMode.objects.bulk_create(
        [m.EnrollmentMode(mode_slug=s, mode_display_name=d)
         for s, d in (("audit", "Audit"), ("verified", "Verified"), ("honor", "Honor code"))])
    runs = []
    for i, c in enumerate(courses, 1):
        for r in range(RUNS_PER_COURSE):
            start = datetime.date(2024, 1, 1) + datetime.timedelta(days=(i * 7 + r * 120) % 700)
            runs.append(m.CourseRun(course=c, courseware_id="course-v1:MITx+C%03d+%dT%d" % (i, r + 1, 2024 + r),
                                    run_tag="%dT%d" % (r + 1, 2024 + r), start_date=start,
                                    end_date=start + datetime.timedelta(days=90), is_self_paced=(i + r) % 4 == 0))
    runs = m.CourseRun.objects.bulk_create(runs)
    RM = m.CourseRun.enrollment_modes.through
    rm, products = [], []
    for n, run in enumerate(runs):
        i, r = n // RUNS_PER_COURSE + 1, n % RUNS_PER_COURSE
        rm.append(RM(courserun_id=run.id, enrollmentmode_id=modes[0].id))
        if (i + r) % 3 != 0:
            rm.append(RM(courserun_id=run.id, enrollmentmode_id=modes[1].id))
        if (i * r) % 5 == 1:
            rm.append(RM(courserun_id=run.id, enrollmentmode_id=modes[2].id))
        for k in range((i + r) % 3):
            products.append(m.Product(course_run=run, description="C%03d run %d seat %d" % (i, r + 1, k + 1),
                                      price=decimal.Decimal("%d.00" % (49 + 50 * k + (i % 5) * 10)),
                                      is_active=(i + r + k) % 5 != 0))
    RM.objects.bulk_create(rm)
    m.Product.objects.bulk_create(products)
    learners = m.Learner.objects.bulk_create(
        [m.Learner(username="learner%04d" % u, email="learner%04d@example.org" % u,
                   legal_name="Learner %d %s" % (u, names[u % 8])) for u in range(1, N_LEARNERS + 1)])
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    enrollments, grades, pes = [], [], []
    for u, learner in enumerate(learners, 1):
        seen = set()
        for j in range(4 + (u * 3) % 7):
            ri = (u * 37 + j * 53) % len(runs)
            if ri in seen:
                continue
            seen.add(ri)
            enrollments.append(m.CourseRunEnrollment(
                user=learner, run=runs[ri], enrollment_mode="verified" if (u + j) % 3 == 0 else "audit",
                active=(u + j) % 9 != 0, created_on=base + datetime.timedelta(hours=u * 13 + j)))
            if (u + j) % 10 < 7:
                for g in range(1 if (u + j) % 10 else 2):
                    val = ((u * 31 + j * 17 + g * 211) % 1000) / 1000
                    grades.append(m.CourseRunGrade(
                        user=learner, course_run=runs[ri], grade=decimal.Decimal("%.3f" % val),
                        letter_grade="A" if val >= 0.9 else "B" if val >= 0.8 else "C" if val >= 0.65 else
                        "D" if val >= 0.5 else "F", passed=val >= 0.5))
        for j in range(u % 4):
            pes.append(m.ProgramEnrollment(user=learner, program=programs[(u * 5 + j * 7) % 12],
                                           enrollment_mode="verified" if j == 0 else "audit",
                                           active=(u + j) % 6 != 0))
    m.CourseRunEnrollment.objects.bulk_create(enrollments)
    m.CourseRunGrade.objects.bulk_create(grades)
    m.ProgramEnrollment.objects.bulk_create(pes)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print("loaded: " + ", ".join("%s %d" % (model.__name__, model.objects.count()) for model in m.ALL))


# ---------------------------------------------------------------------------------------------
# Serializers (defined after django.setup()).

def serializers_module():
    from rest_framework import serializers as s
    from courses import models as m

    class DepartmentSerializer(s.ModelSerializer):
        class Meta:
            model = m.Department
            fields = ["name"]

    class ProgramSerializer(s.ModelSerializer):
        class Meta:
            model = m.Program
            fields = ["id", "readable_id", "title"]

    class CourseSerializer(s.ModelSerializer):
        departments = DepartmentSerializer(many=True, read_only=True)

        class Meta:
            model = m.Course
            fields = ["id", "readable_id", "title", "departments"]

    class ProductSerializer(s.ModelSerializer):
        class Meta:
            model = m.Product
            fields = ["id", "description", "price", "is_active"]

    class EnrollmentModeSerializer(s.ModelSerializer):
        class Meta:
            model = m.EnrollmentMode
            fields = ["mode_slug", "mode_display_name"]

    # /api/v1/course_runs/ -------------------------------------------------------------------
    class CourseRunSerializer(s.ModelSerializer):
        course = CourseSerializer(read_only=True)
        products = ProductSerializer(many=True, read_only=True)
        product_count = s.SerializerMethodField()
        enrollment_modes = EnrollmentModeSerializer(many=True, read_only=True)
        active_enrollments = s.SerializerMethodField()

        class Meta:
            model = m.CourseRun
            fields = ["id", "courseware_id", "run_tag", "start_date", "end_date", "is_self_paced",
                      "course", "products", "product_count", "enrollment_modes", "active_enrollments"]

        def get_product_count(self, obj):
            return obj.products.count()          # no query once products are prefetched

        def get_active_enrollments(self, obj):
            return obj.enrollments.filter(active=True).count()

    class CourseRunSerializerOpt(CourseRunSerializer):
        def get_active_enrollments(self, obj):
            return obj.active_enrollment_count

    # /api/v2/courses/ -----------------------------------------------------------------------
    class RunSummarySerializer(s.ModelSerializer):
        product_count = s.SerializerMethodField()

        class Meta:
            model = m.CourseRun
            fields = ["id", "courseware_id", "start_date", "product_count"]

        def get_product_count(self, obj):
            return obj.products.count()

    class RunSummarySerializerOpt(RunSummarySerializer):
        def get_product_count(self, obj):
            return obj.n_products

    class CatalogCourseSerializer(s.ModelSerializer):
        program = ProgramSerializer(read_only=True, allow_null=True)
        departments = DepartmentSerializer(many=True, read_only=True)
        next_run = s.SerializerMethodField()
        run_count = s.SerializerMethodField()
        courseruns = s.SerializerMethodField()

        class Meta:
            model = m.Course
            fields = ["id", "readable_id", "title", "program", "departments", "next_run", "run_count",
                      "courseruns"]

        def get_next_run(self, obj):
            run = obj.courseruns.filter(start_date__gte=REF_DATE).order_by("start_date", "id").first()
            return run.courseware_id if run else None

        def get_run_count(self, obj):
            return obj.courseruns.count()

        def get_courseruns(self, obj):
            return RunSummarySerializer(obj.courseruns.order_by("id"), many=True).data

    class CatalogCourseSerializerOpt(CatalogCourseSerializer):
        def get_next_run(self, obj):
            later = [r for r in obj.courseruns.all() if r.start_date >= REF_DATE]
            return min(later, key=lambda r: (r.start_date, r.id)).courseware_id if later else None

        def get_run_count(self, obj):
            return len(obj.courseruns.all())

        def get_courseruns(self, obj):
            return RunSummarySerializerOpt(obj.courseruns.all(), many=True).data

    # /api/v1/enrollments/ -------------------------------------------------------------------
    class ProgramTitleSerializer(s.ModelSerializer):
        class Meta:
            model = m.Program
            fields = ["readable_id", "title"]

    class EnrollCourseSerializer(s.ModelSerializer):
        program = ProgramTitleSerializer(read_only=True, allow_null=True)

        class Meta:
            model = m.Course
            fields = ["id", "readable_id", "title", "program"]

    class EnrollRunSerializer(s.ModelSerializer):
        course = EnrollCourseSerializer(read_only=True)
        enrollment_modes = EnrollmentModeSerializer(many=True, read_only=True)

        class Meta:
            model = m.CourseRun
            fields = ["id", "courseware_id", "run_tag", "start_date", "end_date", "course", "enrollment_modes"]

    def grade_dict(g):
        return None if g is None else {"grade": str(g.grade), "letter_grade": g.letter_grade, "passed": g.passed}

    class EnrollmentSerializer(s.ModelSerializer):
        run = EnrollRunSerializer(read_only=True)
        grade = s.SerializerMethodField()

        class Meta:
            model = m.CourseRunEnrollment
            fields = ["id", "enrollment_mode", "active", "created_on", "run", "grade"]

        def get_grade(self, obj):
            return grade_dict(m.CourseRunGrade.objects.filter(
                user_id=obj.user_id, course_run_id=obj.run_id).order_by("-grade", "id").first())

    class EnrollmentSerializerOpt(EnrollmentSerializer):
        def get_grade(self, obj):
            return grade_dict(self.context["best_grades"].get(obj.run_id))

    return locals()


# ---------------------------------------------------------------------------------------------
# Endpoints. Each returns a list of JSON-able responses.

def ep_course_runs(opt, S):
    from django.db.models import Count, Q
    from courses import models as m
    qs = m.CourseRun.objects.order_by("id")
    if not opt:
        return [S["CourseRunSerializer"](qs[:180], many=True).data]
    qs = (qs.select_related("course")
          .prefetch_related("course__departments", "products", "enrollment_modes")
          .annotate(active_enrollment_count=Count("enrollments", filter=Q(enrollments__active=True))))
    return [S["CourseRunSerializerOpt"](qs[:180], many=True).data]


def ep_catalog(opt, S):
    from django.db.models import Count, Prefetch
    from courses import models as m
    qs = m.Course.objects.order_by("id")
    if not opt:
        return [S["CatalogCourseSerializer"](qs, many=True).data]
    qs = qs.select_related("program").prefetch_related(
        "departments",
        Prefetch("courseruns", queryset=m.CourseRun.objects.order_by("id").annotate(n_products=Count("products"))))
    return [S["CatalogCourseSerializerOpt"](qs, many=True).data]


def ep_enrollments(opt, S):
    from django.db import transaction
    from courses import models as m
    out = []
    for uid in REQUEST_USERS:
        with transaction.atomic():                      # ATOMIC_REQUESTS = True
            user = m.Learner.objects.get(pk=uid)        # the authenticated user
            qs = m.CourseRunEnrollment.objects.filter(user=user).order_by("id")
            if not opt:
                out.append(S["EnrollmentSerializer"](qs, many=True).data)
                continue
            qs = qs.select_related("run__course__program").prefetch_related("run__enrollment_modes")
            best = {}
            for g in m.CourseRunGrade.objects.filter(user_id=user.id).order_by("-grade", "id"):
                best.setdefault(g.course_run_id, g)
            out.append(S["EnrollmentSerializerOpt"](qs, many=True, context={"best_grades": best}).data)
    return out


def ep_program_enrollments(opt, S):
    from django.db import transaction
    from django.db.models import Prefetch
    from courses import models as m
    out = []
    for uid in REQUEST_USERS:
        with transaction.atomic():
            user = m.Learner.objects.get(pk=uid)
            pes = m.ProgramEnrollment.objects.filter(user=user).order_by("id")
            if opt:
                pes = list(pes.select_related("program").prefetch_related(
                    Prefetch("program__courses", queryset=m.Course.objects.order_by("id"))))
                by_course = {}
                if pes:
                    for e in m.CourseRunEnrollment.objects.filter(user_id=uid).select_related("run").order_by("id"):
                        by_course.setdefault(e.run.course_id, []).append(e)
            resp = []
            for pe in pes:
                program = pe.program
                if opt:
                    courses = list(program.courses.all())
                    enrollments = sorted((e for c in courses for e in by_course.get(c.id, [])), key=lambda e: e.id)
                else:
                    courses = list(program.courses.order_by("id"))
                    enrollments = (m.CourseRunEnrollment.objects
                                   .filter(user_id=uid, run__course__in=[c.id for c in courses])
                                   .select_related("run").order_by("id"))
                resp.append({
                    "id": pe.id, "enrollment_mode": pe.enrollment_mode, "active": pe.active,
                    "program": S["ProgramSerializer"](program).data,
                    "courses": [{"id": c.id, "readable_id": c.readable_id, "title": c.title} for c in courses],
                    "enrollments": [{"id": e.id, "run": e.run.courseware_id, "mode": e.enrollment_mode,
                                     "active": e.active} for e in enrollments],
                })
            out.append(resp)
    return out


ENDPOINTS = {"course_runs": ep_course_runs, "catalog": ep_catalog, "enrollments": ep_enrollments,
             "program_enrollments": ep_program_enrollments}


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: wl_django.py PORT DB setup | PORT DB ENDPOINT nplus1|optimized")
    port, db, what = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    configure(port, db)
    if what == "setup":
        setup()
        return
    variant = sys.argv[4]
    if what not in ENDPOINTS or variant not in ("nplus1", "optimized"):
        sys.exit("unknown endpoint or variant")
    from django.db import connection
    from rest_framework.renderers import JSONRenderer
    S = serializers_module()
    sent = []

    def counter(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    connection.ensure_connection()
    with connection.cursor() as cur:    # count only the endpoint's statements (see lib.sh)
        cur.execute("SELECT pg_stat_statements_reset()")
    with connection.execute_wrapper(counter):
        t0 = time.perf_counter()
        responses = ENDPOINTS[what](variant == "optimized", S)
        rendered = [JSONRenderer().render(r).decode() for r in responses]
        wall = time.perf_counter() - t0
    connection.close()
    for line in rendered:
        print(line)
    print("WLSTATS " + json.dumps({"wall": round(wall, 6), "sent": len(sent)}), file=sys.stderr)


if __name__ == "__main__":
    main()
