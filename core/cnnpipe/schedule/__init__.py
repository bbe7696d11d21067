"""Scheduled container jobs: cron schedules, a GPU-aware queue and a crash-safe job history in SQLite."""
