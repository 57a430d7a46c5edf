"""Serial-port driver (pyserial), read through the event loop without threads.

The port is opened non-blocking and its file descriptor watched with
``loop.add_reader`` (POSIX), so a pseudo-terminal works exactly like a USB
or RS-232 port.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time

from vngeonet.errors import StreamError
from vngeonet.streams.base import Source

log = logging.getLogger(__name__)

PARITIES = {"N": "N", "E": "E", "O": "O", "M": "M", "S": "S"}


class SerialSource(Source):
    """Read a receiver on a serial port.

    Parameters
    ----------
    port : str
        Device, e.g. ``/dev/ttyUSB0``.
    baud : int
        Bits per second.
    parity : str
        ``N``, ``E``, ``O``, ``M`` or ``S``.
    bytesize, stopbits :
        Frame format (8, 1 by default).
    rtscts, xonxoff : bool
        Hardware / software flow control.
    read_timeout_s : float or None
        Raise :class:`~vngeonet.errors.StreamError` after this much silence.
    """

    def __init__(self, port: str, *, baud: int = 115200, parity: str = "N", bytesize: int = 8,
                 stopbits: float = 1, rtscts: bool = False, xonxoff: bool = False,
                 read_timeout_s: float | None = None, clock=time.monotonic, name: str = ""):
        super().__init__(name or f"serial://{port}", clock=clock)
        if parity.upper() not in PARITIES:
            raise ValueError(f"parity must be one of {sorted(PARITIES)}, not {parity!r}")
        self.port = port
        self.settings = {"baudrate": int(baud), "parity": parity.upper(), "bytesize": int(bytesize),
                         "stopbits": stopbits, "rtscts": bool(rtscts), "xonxoff": bool(xonxoff)}
        self.read_timeout_s = read_timeout_s
        self._ser = None
        self._event: asyncio.Event | None = None

    async def _open(self) -> None:
        import serial  # pyserial

        try:
            self._ser = serial.Serial(self.port, timeout=0, **self.settings)
        except (serial.SerialException, OSError, ValueError) as err:
            raise StreamError(f"{self.name}: cannot open: {err}") from err
        self._event = asyncio.Event()
        asyncio.get_running_loop().add_reader(self._ser.fileno(), self._event.set)

    async def _read(self) -> bytes:
        import serial

        while True:
            try:
                n = self._ser.in_waiting
                data = self._ser.read(max(n, 1))
            except (serial.SerialException, OSError) as err:
                # The device went away (USB unplugged, pty master closed): end of stream.
                if "returned no data" in str(err) or getattr(err, "errno", None) == errno.EIO:
                    return b""
                raise StreamError(f"{self.name}: {err}") from err
            if data:
                return data
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), self.read_timeout_s)
            except TimeoutError as err:
                raise StreamError(f"{self.name}: no data for {self.read_timeout_s} s") from err

    async def write(self, data: bytes) -> None:
        """Send bytes to the receiver (configuration commands)."""
        await self.open()
        self._ser.write(data)

    async def _close(self) -> None:
        if self._ser is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._ser.fileno())
            except (RuntimeError, ValueError, OSError):
                pass
            self._ser.close()
            self._ser = None
