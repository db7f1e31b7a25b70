// Every RINGTREE_* tunable of the native runtime, in one place.
#pragma once

#include "common/param.h"

namespace ringtree {
// Bytes of each shared-memory ring (one per peer, channel and direction). Power of two.
RINGTREE_PARAM(ShmRingBytes, "SHM_RING_BYTES", 4 << 20)
// Largest piece the shm producer copies before publishing (keeps the consumer pipelined).
RINGTREE_PARAM(ShmChunkBytes, "SHM_CHUNK_BYTES", 256 << 10)
// 1 disables shared memory between ranks of one host (TCP everywhere).
RINGTREE_PARAM(ShmDisable, "SHM_DISABLE", 0)
// Spin iterations (with a pause instruction) before a waiting rank sleeps.
RINGTREE_PARAM(SpinCount, "SPIN_COUNT", 1000)
// Then this many sched_yield() rounds (lets a peer on the same core run) before sleeping.
RINGTREE_PARAM(YieldCount, "YIELD_COUNT", 200)
// Ops of at most this many bytes try to complete inline in the calling thread when the queue is
// idle (a settled Promise without a thread hop); 0 disables the fast path.
RINGTREE_PARAM(InlineBytes, "INLINE_BYTES", 1 << 20)
// An inline attempt hands the op to the progress thread when no byte moved for this long (us)...
RINGTREE_PARAM(InlineSpinUs, "INLINE_SPIN_US", 10)
// The same when the op talks to a peer over TCP.
RINGTREE_PARAM(InlineSpinTcpUs, "INLINE_SPIN_TCP_US", 60)
// When every rank on this host has a CPU of its own, keep spinning this much longer (us, counted
// from the last progress) before handing off: a peer a few tens of us late (its previous completion
// still travelling through its event loop) then meets this op inline, instead of both ranks settling
// into the hand-off path, whose wake-ups cost 25 us to milliseconds on a VM. Not applied when ranks
// outnumber CPUs (the late peer may be waiting for this very core). 0 disables it.
RINGTREE_PARAM(InlineWaitUs, "INLINE_WAIT_US", 200)
// ...or when it has run this long (us): the calling thread is never held longer than this.
RINGTREE_PARAM(InlineMaxUs, "INLINE_MAX_US", 500)
// How long (us) the progress thread stays awake (yielding) for the next op before it sleeps.
RINGTREE_PARAM(IdleSpinUs, "IDLE_SPIN_US", 100)
// Bytes of the TCP receive staging buffer used by receive-and-reduce.
RINGTREE_PARAM(TcpStagingBytes, "TCP_STAGING_BYTES", 512 << 10)
// Socket buffer sizes (SO_SNDBUF/SO_RCVBUF), 0 keeps the kernel's autotuning.
RINGTREE_PARAM(TcpSocketBuffer, "TCP_SOCKET_BUFFER", 4 << 20)
// Ring all-reduce pipelines a message in segments of at most this many bytes per rank-chunk.
RINGTREE_PARAM(RingSegmentBytes, "RING_SEGMENT_BYTES", 64 << 20)
// Messages up to this size use the tree all-reduce under algorithm 'auto'.
RINGTREE_PARAM(TreeThresholdBytes, "TREE_THRESHOLD_BYTES", 64 << 10)
// How often (ms) a waiting rank checks peers' liveness, deadlines and aborts.
RINGTREE_PARAM(WaitSliceMs, "WAIT_SLICE_MS", 10)
// A collective stalled this long (ms) sends its fingerprint to the peers it waits on, so ranks
// stuck in different ops (neither sending first) fail with a mismatch instead of timing out.
RINGTREE_PARAM(ProbeAfterMs, "PROBE_AFTER_MS", 200)
}  // namespace ringtree
