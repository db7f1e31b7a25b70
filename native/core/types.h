// Enumerations shared by the core, the algorithms and the binding (TS mirrors them in
// lib/native/codes.ts: keep the numeric values in sync).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringtree {

enum class DataType : uint8_t {
  kFloat32 = 0,
  kFloat64 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint8 = 5,
  kInt8 = 6,
  kFloat16 = 7,
  kBfloat16 = 8,
};
constexpr int kNumDataTypes = 9;

enum class ReduceOp : uint8_t { kSum = 0, kAvg = 1, kProd = 2, kMin = 3, kMax = 4 };
constexpr int kNumReduceOps = 5;

enum class OpType : uint8_t {
  kAllReduce = 0,
  kBroadcast = 1,
  kReduce = 2,
  kAllGather = 3,
  kReduceScatter = 4,
  kBarrier = 5,
  kSend = 6,
  kRecv = 7,
};

enum class Algo : uint8_t { kAuto = 0, kRing = 1, kTree = 2, kRhd = 3 };

inline size_t dtypeSize(DataType t) {
  switch (t) {
    case DataType::kFloat32: case DataType::kInt32: case DataType::kUint32: return 4;
    case DataType::kFloat64: case DataType::kInt64: return 8;
    case DataType::kUint8: case DataType::kInt8: return 1;
    case DataType::kFloat16: case DataType::kBfloat16: return 2;
  }
  return 1;
}

const char* dtypeName(DataType t);
const char* reduceOpName(ReduceOp op);
const char* opTypeName(OpType op);
const char* algoName(Algo a);

}  // namespace ringtree
