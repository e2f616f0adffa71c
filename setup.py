"""Build hook: the top-level templates/, config/ and examples/mail/ ship inside the wheel.

The folders stay where the design card names them; setuptools maps each into the package as
service/_data/<name> (package-dir), so a wheel install finds them with importlib.resources
(service/resources.py). Everything else is in pyproject.toml.
"""
from setuptools import find_packages, setup

SHIPPED = {
    "service._data.templates": "templates",  # the letters' Jinja templates
    "service._data.config": "config",  # the 2022 campaign's service.toml (demo's default)
    "service._data.mail": "examples/mail",  # the demo's sample submissions
}

setup(
    packages=find_packages(include=["service", "service.*"]) + list(SHIPPED),
    package_dir=SHIPPED,
)
