//! Copying a proxied connection both ways with buffers borrowed only while bytes are in flight:
//! an idle connection holds no copy buffer (tokio's `copy_bidirectional` keeps 8 KiB per
//! direction for the connection's whole life). Spare buffers wait in a small per-thread pool.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes one direction reads at a time (tokio's default copy buffer).
pub const BUFFER_SIZE: usize = 8 * 1024;
/// Spare buffers a runtime thread keeps for the next reads; more are freed.
const SPARE_KEPT: usize = 16;

thread_local! {
    static SPARE: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer for one read: a spare one of this thread, else a new one.
fn borrow() -> Box<[u8]> {
    let spare = SPARE
        .try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten();
    spare.unwrap_or_else(|| vec![0; BUFFER_SIZE].into_boxed_slice())
}

/// Returns `buffer` to this thread's spares (freed when they are full).
fn give_back(buffer: Box<[u8]>) {
    let _ = SPARE.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < SPARE_KEPT {
            spare.push(buffer);
        }
    });
}

/// Copies `a` → `b` and `b` → `a` until both ends are done; an end of stream on one side is
/// passed on as a shutdown of the other's write half. Returns the bytes copied each way, like
/// `tokio::io::copy_bidirectional`.
pub async fn copy_both_ways<A, B>(a: &mut A, b: &mut B) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut a_to_b = Direction::Copying(OneWay::default());
    let mut b_to_a = Direction::Copying(OneWay::default());
    poll_fn(|cx| {
        let there = a_to_b.poll(cx, a, b)?;
        let back = b_to_a.poll(cx, b, a)?;
        Poll::Ready(Ok((ready!(there), ready!(back))))
    })
    .await
}

/// One direction's phase.
enum Direction {
    Copying(OneWay),
    ShuttingDown(u64),
    Done(u64),
}

impl Direction {
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        from: &mut R,
        to: &mut W,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            match self {
                Direction::Copying(copy) => {
                    let copied = ready!(copy.poll(cx, Pin::new(&mut *from), Pin::new(&mut *to)))?;
                    *self = Direction::ShuttingDown(copied);
                }
                Direction::ShuttingDown(copied) => {
                    ready!(Pin::new(&mut *to).poll_shutdown(cx))?;
                    *self = Direction::Done(*copied);
                }
                Direction::Done(copied) => return Poll::Ready(Ok(*copied)),
            }
        }
    }
}

/// The bytes of one direction read but not yet written, in a borrowed buffer.
#[derive(Default)]
struct OneWay {
    buffer: Option<Box<[u8]>>,
    written: usize,
    filled: usize,
    read_done: bool,
    needs_flush: bool,
    copied: u64,
}

impl OneWay {
    /// Reads and writes until the reader ends (then flushes) or either side waits; the
    /// buffer goes back to the pool whenever a read waits with nothing left to write.
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut from: Pin<&mut R>,
        mut to: Pin<&mut W>,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if self.written == self.filled && !self.read_done {
                let mut buffer = self.buffer.take().unwrap_or_else(borrow);
                let mut read = ReadBuf::new(&mut buffer);
                match from.as_mut().poll_read(cx, &mut read) {
                    Poll::Ready(Ok(())) => {
                        let n = read.filled().len();
                        (self.written, self.filled) = (0, n);
                        if n == 0 {
                            self.read_done = true;
                            give_back(buffer);
                        } else {
                            self.buffer = Some(buffer);
                        }
                    }
                    Poll::Ready(Err(error)) => {
                        give_back(buffer);
                        return Poll::Ready(Err(error));
                    }
                    Poll::Pending => {
                        give_back(buffer);
                        if self.needs_flush {
                            ready!(to.as_mut().poll_flush(cx))?;
                            self.needs_flush = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
            while self.written < self.filled {
                let pending = match &self.buffer {
                    Some(buffer) => &buffer[self.written..self.filled],
                    None => unreachable!("bytes read and not written are in the buffer"),
                };
                let n = ready!(to.as_mut().poll_write(cx, pending))?;
                if n == 0 {
                    let message = "the other side accepts no more bytes";
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::WriteZero, message)));
                }
                self.written += n;
                self.copied += n as u64;
                self.needs_flush = true;
            }
            if self.read_done {
                ready!(to.as_mut().poll_flush(cx))?;
                return Poll::Ready(Ok(self.copied));
            }
        }
    }
}

impl Drop for OneWay {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            give_back(buffer);
        }
    }
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
