"""The real Request Tracker used by the integration tests: start.sh/stop.sh run it, client.py
seeds it and reads results back, proxy.py sits in front of it to slow or cut traffic."""
