"""Widgets of the console; each one's styles sit beside it in a .tcss file, which the app
loads at start-up (csconsole/app.py CSS_PATH) rather than when the widget first appears."""
