"""Test-wide setup. The library never configures logging; the test runner, as an entry point, does:
only warnings and errors are printed, so a failing test's output stays readable."""

import logging

import structlog

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
