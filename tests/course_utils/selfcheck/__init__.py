"""Tests of course_utils.selfcheck, one module per module of the package."""
