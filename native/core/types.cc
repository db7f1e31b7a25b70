#include "core/types.h"

namespace ringtree {

const char* dtypeName(DataType t) {
  static const char* names[] = {"float32", "float64", "int32", "uint32", "int64",
                                "uint8",   "int8",    "float16", "bfloat16"};
  auto i = static_cast<unsigned>(t);
  return i < kNumDataTypes ? names[i] : "?";
}
const char* reduceOpName(ReduceOp op) {
  static const char* names[] = {"sum", "avg", "prod", "min", "max"};
  auto i = static_cast<unsigned>(op);
  return i < kNumReduceOps ? names[i] : "?";
}
const char* opTypeName(OpType op) {
  static const char* names[] = {"allReduce", "broadcast", "reduce", "allGather",
                                "reduceScatter", "barrier", "send", "recv"};
  auto i = static_cast<unsigned>(op);
  return i < 8 ? names[i] : "?";
}
const char* algoName(Algo a) {
  static const char* names[] = {"auto", "ring", "tree", "rhd"};
  auto i = static_cast<unsigned>(a);
  return i < 4 ? names[i] : "?";
}

}  // namespace ringtree
