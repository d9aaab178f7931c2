"""Esprit: service-excellence pipeline logic, usable without Airflow."""
