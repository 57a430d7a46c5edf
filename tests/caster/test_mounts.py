"""Per-client bounded queues (drop oldest whole frames, then disconnect) and mountpoint statistics."""

from tests.caster.helpers import real_frames
from tests.conftest import data_path
from vngeonet.caster.config import MountConfig
from vngeonet.caster.mounts import ClientQueue, Mount, message_system
from vngeonet.caster.request import ChunkedDecoder
from vngeonet.rtcm.framer import RTCMFramer


class FakeTransport:
    """A socket that accepts ``capacity`` bytes, then stalls until ``take()``."""

    def __init__(self, capacity=10**9):
        self.capacity = capacity
        self.buffer = 0
        self.wire = bytearray()
        self.aborted = self.closed = False

    def write(self, data):
        self.wire += data
        self.buffer += len(data)

    def get_write_buffer_size(self):
        return max(0, self.buffer - self.capacity)

    def take(self):
        self.capacity = self.buffer

    def abort(self):
        self.aborted = True

    def close(self):
        self.closed = True


def _frames():
    return real_frames(data_path("pygnssutils/tests/ntrip_encode_none.bin"))


def test_fast_client_gets_everything_without_queueing():
    t = FakeTransport()
    q = ClientQueue(t, chunked=False)
    for f in _frames():
        q.offer(f.raw, b"", 1)
    assert bytes(t.wire) == b"".join(f.raw for f in _frames()) and not q.pending and q.dropped_frames == 0


def test_slow_client_drops_oldest_whole_frames_then_is_disconnected():
    frames = _frames()
    t = FakeTransport(capacity=0)
    q = ClientQueue(t, chunked=False, max_bytes=4000, write_mark=1000)
    for f in frames:
        if q.closed:
            break
        q.offer(f.raw, b"", 1)
        assert q.pending_bytes <= 4000 + max(len(x.raw) for x in frames)
    assert q.dropped_frames > 0 and q.closed and t.aborted and q.close_reason.startswith("slow client")
    # what did reach the wire is whole frames, in order
    got = RTCMFramer().feed(bytes(t.wire))
    assert [g.raw for g in got] == [f.raw for f in frames[: len(got)]]


def test_stalled_then_recovering_client_sees_whole_frames_in_order():
    frames = _frames()
    t = FakeTransport(capacity=2000)
    q = ClientQueue(t, chunked=True, max_bytes=6000, write_mark=500)
    for i, f in enumerate(frames):
        q.offer(f.raw, b"%x\r\n%b\r\n" % (len(f.raw), f.raw), 1)
        if i % 10 == 9:  # the client reads now and then
            t.take()
            q.flush()
    while q.pending:
        t.take()
        q.flush()
    assert not q.closed and q.dropped_frames > 0
    payload = ChunkedDecoder().feed(bytes(t.wire))
    got = [g.raw for g in RTCMFramer().feed(payload)]
    want = [f.raw for f in frames]
    assert len(got) + q.dropped_frames == len(want)
    it = iter(want)  # a subsequence: order kept, only whole frames missing
    assert all(any(g == w for w in it) for g in got)


def test_mount_statistics_and_position():
    m = Mount(MountConfig("X", "pw"))
    m.attach_source("1.2.3.4", 0.0)
    for i, f in enumerate(real_frames(data_path("pygnssutils/tests/pygpsdata-rtcm3.log"))):
        m.publish([f], now_s=i // 7)
    lat, lon = m.position_deg()
    assert abs(lat - 32.0658) < 1e-3 and abs(lon - 34.7738) < 1e-3
    assert m.systems() == ["GPS", "GLO", "GAL", "BDS"] and m.carrier() == 2
    assert round(m.types[1077].interval_s) == 1 and m.types[1005].count == 158


def test_message_system():
    assert [message_system(t) for t in (1004, 1012, 1097, 1117, 1137, 1019)] == ["GPS", "GLO", "GAL", "QZS", "IRS", None]
