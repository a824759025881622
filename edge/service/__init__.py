"""Headless service pieces: sd_notify (READY/WATCHDOG/STATUS), Pi thermal probe, and `python -m edge service`."""
