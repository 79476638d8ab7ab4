"""Two servers sharing a room through Redis: a member of each, a frame from one to
the other, a host publish on the second reaching both.

    python examples/python/backplane.py redis://127.0.0.1:6379
"""

import sys

import pierhead

url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379"
with pierhead.Server("frame", backplane=url) as east, pierhead.Server("frame", backplane=url) as west:
    with pierhead.FrameClient(east.host, east.port) as ann, pierhead.FrameClient(west.host, west.port) as bob:
        ann.join("lobby")  # on east
        bob.join("lobby")  # on west: returns once west is subscribed to the room
        ann.send(b"hi from east")
        print(bob.recv())
        print(west.publish("lobby", b"west says hello"))
        print(ann.recv(), bob.recv())
        # Read while ann is still a member: once she leaves, east unsubscribes.
        b = east.stats().backplane
        assert b is not None
        print(b.state, "subscriptions:", b.subscriptions, "received:", b.received)
print(east.stop().backplane.state)  # type: ignore[union-attr]
