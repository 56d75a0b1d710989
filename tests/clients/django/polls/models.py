"""The seed's polls models (Django tutorial part 2) plus a small library for nested loops."""
from django.db import models


class Question(models.Model):
    question_text = models.CharField(max_length=200)
    pub_date = models.DateTimeField("date published")

    class Meta:
        app_label = "polls"


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
    choice_text = models.CharField(max_length=200)
    votes = models.IntegerField(default=0)

    class Meta:
        app_label = "polls"


class Author(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "polls"


class Tag(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "polls"


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag)

    class Meta:
        app_label = "polls"
