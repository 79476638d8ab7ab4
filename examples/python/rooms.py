"""Rooms from Python: members join, one speaks, the test host publishes."""

import pierhead

with pierhead.Server(protocol="frame", workers=2) as server:
    with pierhead.FrameClient(server.host, server.port) as ann, \
            pierhead.FrameClient(server.host, server.port) as bob:
        ann.join("lobby")  # returns once the membership is in force
        bob.join("lobby")
        print(server.rooms())
        ann.send(b"hi bob")
        print(bob.recv())
        report = server.publish("lobby", b"server says hello")
        print(report)
        print(ann.recv(), bob.recv())
        try:
            ann.send(b"x" * (2 << 20))  # over max_frame_bytes (1 MiB)
            ann.recv()
        except pierhead.FrameError as e:
            print("FrameError:", e.text)
    s = server.stats()
    print(f"broadcasts={s.broadcasts} deliveries={s.deliveries} protocol_errors={s.protocol_errors}")
