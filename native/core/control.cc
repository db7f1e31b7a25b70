#include "core/control.h"

#include <cstring>

namespace ringtree {

std::string encodeCtrl(CtrlType type, ErrorCode code, const OpFingerprint& fp, const std::string& text) {
  CtrlFrame f{};
  f.magic = kCtrlMagic;
  f.type = static_cast<uint32_t>(type);
  f.code = static_cast<uint32_t>(code);
  std::string t = text.size() > 4096 ? text.substr(0, 4096) : text;
  f.len = static_cast<uint32_t>(t.size());
  f.seq = fp.seq;
  f.op = static_cast<uint8_t>(fp.op);
  f.dtype = static_cast<uint8_t>(fp.dtype);
  f.redop = static_cast<uint8_t>(fp.redop);
  f.algo = static_cast<uint8_t>(fp.algo);
  f.root = fp.root;
  f.count = fp.count;
  std::string out(reinterpret_cast<const char*>(&f), sizeof(f));
  out += t;
  return out;
}

bool parseCtrl(std::string& buf, std::vector<ParsedCtrl>& out) {
  size_t pos = 0;
  while (buf.size() - pos >= sizeof(CtrlFrame)) {
    CtrlFrame f;
    std::memcpy(&f, buf.data() + pos, sizeof(f));
    if (f.magic != kCtrlMagic || f.len > 4096 || (f.type < 1 || f.type > 3)) return false;
    if (buf.size() - pos < sizeof(f) + f.len) break;
    ParsedCtrl p;
    p.type = static_cast<CtrlType>(f.type);
    p.code = f.code >= 1 && f.code <= static_cast<uint32_t>(ErrorCode::kInternal) ? static_cast<ErrorCode>(f.code)
                                                                                   : ErrorCode::kInternal;
    p.fp = OpFingerprint{static_cast<OpType>(f.op), static_cast<DataType>(f.dtype), static_cast<ReduceOp>(f.redop),
                         static_cast<Algo>(f.algo), f.root, f.count, f.seq};
    p.text.assign(buf.data() + pos + sizeof(f), f.len);
    out.push_back(std::move(p));
    pos += sizeof(f) + f.len;
  }
  buf.erase(0, pos);
  return true;
}

}  // namespace ringtree
