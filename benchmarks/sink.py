"""An SMTP sink for benchmarks: accepts every message and keeps nothing but a count.

It speaks just enough SMTP for a client (EHLO with PIPELINING, MAIL, RCPT, DATA, RSET, NOOP,
QUIT) and finds the end of a message with one ``bytes.find`` per chunk, so that it costs the
machine little next to the client being measured: on 2 cores, a sink that costs as much as
the client caps what a second worker can add. It is not a mail server; the tests use aiosmtpd.

Run: python benchmarks/sink.py PORT   (prints "ready" when listening; SIGTERM prints the count)
"""

from __future__ import annotations

import asyncio
import signal
import sys


class Sink(asyncio.Protocol):
    """One client connection."""

    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        replies = []
        while True:
            if self.in_data:
                end = buffer.find(b"\r\n.\r\n")
                if end < 0:
                    # Keep only what may start the end marker.
                    self.buffer = buffer[-4:]
                    break
                buffer = buffer[end + 5 :]
                self.in_data = False
                Sink.count += 1
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                self.buffer = buffer
                break
            line, buffer = buffer[:line_end], buffer[line_end + 2 :]
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                replies.append(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.in_data = True
                replies.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                # The message may start right after DATA: "\r\n." must match at its very end.
                buffer = b"\r\n" + buffer
            elif verb == b"QUIT":
                replies.append(b"221 Bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            else:
                replies.append(b"250 Ok\r\n")
        if replies:
            self.transport.write(b"".join(replies))


async def serve(port: int) -> None:
    """Listen on 127.0.0.1:``port`` until SIGTERM."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", port)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    print("ready", flush=True)
    async with server:
        await stop
    print(Sink.count, flush=True)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
