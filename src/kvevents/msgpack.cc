#include "kvevents/msgpack.h"

#include <bit>
#include <limits>

namespace llmd::kvevents::msgpack {

void Writer::put_be(uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void Writer::uint(uint64_t v) {
  if (v < 0x80) {
    out_.push_back(static_cast<char>(v));
  } else if (v <= 0xff) {
    out_.push_back(static_cast<char>(0xcc));
    put_be(v, 1);
  } else if (v <= 0xffff) {
    out_.push_back(static_cast<char>(0xcd));
    put_be(v, 2);
  } else if (v <= 0xffffffffull) {
    out_.push_back(static_cast<char>(0xce));
    put_be(v, 4);
  } else {
    out_.push_back(static_cast<char>(0xcf));
    put_be(v, 8);
  }
}

void Writer::sint(int64_t v) {
  if (v >= 0) {
    uint(static_cast<uint64_t>(v));
  } else if (v >= -32) {
    out_.push_back(static_cast<char>(static_cast<uint8_t>(v)));
  } else if (v >= std::numeric_limits<int8_t>::min()) {
    out_.push_back(static_cast<char>(0xd0));
    put_be(static_cast<uint8_t>(v), 1);
  } else if (v >= std::numeric_limits<int16_t>::min()) {
    out_.push_back(static_cast<char>(0xd1));
    put_be(static_cast<uint16_t>(v), 2);
  } else if (v >= std::numeric_limits<int32_t>::min()) {
    out_.push_back(static_cast<char>(0xd2));
    put_be(static_cast<uint32_t>(v), 4);
  } else {
    out_.push_back(static_cast<char>(0xd3));
    put_be(static_cast<uint64_t>(v), 8);
  }
}

void Writer::float64(double v) {
  out_.push_back(static_cast<char>(0xcb));
  put_be(std::bit_cast<uint64_t>(v), 8);
}

void Writer::str(std::string_view s) {
  const size_t n = s.size();
  if (n < 32) {
    out_.push_back(static_cast<char>(0xa0 | n));
  } else if (n <= 0xff) {
    out_.push_back(static_cast<char>(0xd9));
    put_be(n, 1);
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xda));
    put_be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xdb));
    put_be(n, 4);
  }
  out_.append(s);
}

void Writer::bin(std::string_view b) {
  const size_t n = b.size();
  if (n <= 0xff) {
    out_.push_back(static_cast<char>(0xc4));
    put_be(n, 1);
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xc5));
    put_be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xc6));
    put_be(n, 4);
  }
  out_.append(b);
}

void Writer::array_head(uint32_t n) {
  if (n < 16) {
    out_.push_back(static_cast<char>(0x90 | n));
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xdc));
    put_be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xdd));
    put_be(n, 4);
  }
}

void Writer::map_head(uint32_t n) {
  if (n < 16) {
    out_.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xde));
    put_be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xdf));
    put_be(n, 4);
  }
}

Type Reader::peek() const {
  if (failed_ || at_end()) return Type::kInvalid;
  const auto b = static_cast<uint8_t>(data_[pos_]);
  if (b <= 0x7f) return Type::kUint;
  if (b <= 0x8f) return Type::kMap;
  if (b <= 0x9f) return Type::kArray;
  if (b <= 0xbf) return Type::kStr;
  if (b >= 0xe0) return Type::kInt;
  switch (b) {
    case 0xc0:
      return Type::kNil;
    case 0xc2:
    case 0xc3:
      return Type::kBool;
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return Type::kBin;
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      return Type::kExt;
    case 0xca:
    case 0xcb:
      return Type::kFloat;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
      return Type::kUint;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
      return Type::kInt;
    case 0xd9:
    case 0xda:
    case 0xdb:
      return Type::kStr;
    case 0xdc:
    case 0xdd:
      return Type::kArray;
    case 0xde:
    case 0xdf:
      return Type::kMap;
    default:
      return Type::kInvalid;  // 0xc1 is reserved
  }
}

bool Reader::take(size_t n, std::string_view& out) {
  if (failed_ || n > remaining()) return fail();
  out = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

bool Reader::read_be(int bytes, uint64_t& v) {
  std::string_view s;
  if (!take(static_cast<size_t>(bytes), s)) return false;
  v = 0;
  for (char c : s) v = (v << 8) | static_cast<uint8_t>(c);
  return true;
}

bool Reader::read_nil() {
  if (peek() != Type::kNil) return fail();
  ++pos_;
  return true;
}

bool Reader::read_bool(bool& v) {
  if (peek() != Type::kBool) return fail();
  v = static_cast<uint8_t>(data_[pos_++]) == 0xc3;
  return true;
}

bool Reader::read_integer(uint64_t& bits, bool& negative) {
  const Type t = peek();
  if (t != Type::kUint && t != Type::kInt) return fail();
  const auto b = static_cast<uint8_t>(data_[pos_++]);
  negative = false;
  if (b <= 0x7f) {
    bits = b;
    return true;
  }
  if (b >= 0xe0) {
    bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(b)));
    negative = true;
    return true;
  }
  uint64_t v = 0;
  switch (b) {
    case 0xcc:
      return read_be(1, bits);
    case 0xcd:
      return read_be(2, bits);
    case 0xce:
      return read_be(4, bits);
    case 0xcf:
      return read_be(8, bits);
    case 0xd0:
      if (!read_be(1, v)) return false;
      bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(v)));
      break;
    case 0xd1:
      if (!read_be(2, v)) return false;
      bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(v)));
      break;
    case 0xd2:
      if (!read_be(4, v)) return false;
      bits = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
      break;
    default:  // 0xd3
      if (!read_be(8, v)) return false;
      bits = v;
      break;
  }
  negative = static_cast<int64_t>(bits) < 0;
  return true;
}

bool Reader::read_uint(uint64_t& v) {
  bool negative = false;
  if (!read_integer(v, negative)) return false;
  return negative ? fail() : true;
}

bool Reader::read_int(int64_t& v) {
  const bool is_unsigned = peek() == Type::kUint;
  uint64_t bits = 0;
  bool negative = false;
  if (!read_integer(bits, negative)) return false;
  if (is_unsigned && bits > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return fail();
  v = static_cast<int64_t>(bits);
  return true;
}

bool Reader::read_u64_bits(uint64_t& v) {
  bool negative = false;
  return read_integer(v, negative);
}

bool Reader::read_number(double& v) {
  const Type t = peek();
  if (t == Type::kUint) {
    uint64_t u = 0;
    if (!read_uint(u)) return false;
    v = static_cast<double>(u);
    return true;
  }
  if (t == Type::kInt) {
    int64_t i = 0;
    if (!read_int(i)) return false;
    v = static_cast<double>(i);
    return true;
  }
  if (t != Type::kFloat) return fail();
  const auto b = static_cast<uint8_t>(data_[pos_++]);
  uint64_t bits = 0;
  if (b == 0xca) {
    if (!read_be(4, bits)) return false;
    v = std::bit_cast<float>(static_cast<uint32_t>(bits));
  } else {
    if (!read_be(8, bits)) return false;
    v = std::bit_cast<double>(bits);
  }
  return true;
}

bool Reader::read_str(std::string_view& v) {
  if (peek() != Type::kStr) return fail();
  const auto b = static_cast<uint8_t>(data_[pos_++]);
  uint64_t n = 0;
  if (b <= 0xbf) {
    n = b & 0x1f;
  } else if (!read_be(b == 0xd9 ? 1 : b == 0xda ? 2 : 4, n)) {
    return false;
  }
  return take(n, v);
}

bool Reader::read_bin(std::string_view& v) {
  if (peek() != Type::kBin) return fail();
  const auto b = static_cast<uint8_t>(data_[pos_++]);
  uint64_t n = 0;
  if (!read_be(b == 0xc4 ? 1 : b == 0xc5 ? 2 : 4, n)) return false;
  return take(n, v);
}

bool Reader::read_container(uint8_t fix_base, uint8_t fix_mask, uint8_t b16, uint8_t b32, uint32_t& n,
                            size_t per_item) {
  const auto b = static_cast<uint8_t>(data_[pos_++]);
  uint64_t count = 0;
  if ((b & ~fix_mask) == fix_base) {
    count = b & fix_mask;
  } else if (b == b16) {
    if (!read_be(2, count)) return false;
  } else if (b == b32) {
    if (!read_be(4, count)) return false;
  } else {
    return fail();
  }
  if (count * per_item > remaining()) return fail();
  n = static_cast<uint32_t>(count);
  return true;
}

bool Reader::read_array(uint32_t& n) {
  if (peek() != Type::kArray) return fail();
  return read_container(0x90, 0x0f, 0xdc, 0xdd, n, 1);
}

bool Reader::read_map(uint32_t& n) {
  if (peek() != Type::kMap) return fail();
  return read_container(0x80, 0x0f, 0xde, 0xdf, n, 2);
}

bool Reader::skip() {
  uint64_t pending = 1;
  while (pending > 0) {
    --pending;
    std::string_view s;
    uint64_t u = 0;
    uint32_t n = 0;
    double d = 0;
    bool flag = false;
    switch (peek()) {
      case Type::kNil:
        ++pos_;
        break;
      case Type::kBool:
        if (!read_bool(flag)) return false;
        break;
      case Type::kUint:
      case Type::kInt:
        if (!read_u64_bits(u)) return false;
        break;
      case Type::kFloat:
        if (!read_number(d)) return false;
        break;
      case Type::kStr:
        if (!read_str(s)) return false;
        break;
      case Type::kBin:
        if (!read_bin(s)) return false;
        break;
      case Type::kArray:
        if (!read_array(n)) return false;
        pending += n;
        break;
      case Type::kMap:
        if (!read_map(n)) return false;
        pending += 2ull * n;
        break;
      case Type::kExt: {
        const auto b = static_cast<uint8_t>(data_[pos_++]);
        uint64_t len = 0;
        switch (b) {
          case 0xd4:
            len = 1;
            break;
          case 0xd5:
            len = 2;
            break;
          case 0xd6:
            len = 4;
            break;
          case 0xd7:
            len = 8;
            break;
          case 0xd8:
            len = 16;
            break;
          default:
            if (!read_be(b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4, len)) return false;
            break;
        }
        if (!take(len + 1, s)) return false;  // type byte + data
        break;
      }
      case Type::kInvalid:
        return fail();
    }
  }
  return true;
}

}  // namespace llmd::kvevents::msgpack
