"""The real-time transport: sockets, long polls, and the relay that feeds both.

It calls the domain (chat's services and selectors) and forwards the frames
chat/events.py built; chat never imports it (tests/unit/test_layering.py).
"""
