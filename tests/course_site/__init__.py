"""Tests of ``course_site``."""
