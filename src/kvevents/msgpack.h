#pragma once
// A msgpack writer and a bounded pull reader for the subset vLLM's KV events use.
//
// Hand-written rather than msgpack-cxx: its packer writes integral doubles as integers (vLLM's
// msgspec always writes `ts` as float64, 0xcb), and its unpacker reports malformed input by
// throwing and builds a zone-allocated object tree. The reader here never throws, never allocates,
// and bounds every declared length by the bytes that remain, so hostile input cannot make it
// reserve memory or recurse. msgpack-cxx checks it instead, as the oracle of
// msgpack_oracle_test.cc.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace llmd::kvevents::msgpack {

// Appends msgpack values to a string, each in its shortest form (as msgspec does): non-negative
// integers as fixint/uint8..64, negative as negative fixint/int8..64, doubles always as float64.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void nil() { out_.push_back(static_cast<char>(0xc0)); }
  void boolean(bool v) { out_.push_back(static_cast<char>(v ? 0xc3 : 0xc2)); }
  void uint(uint64_t v);
  void sint(int64_t v);
  void float64(double v);
  void str(std::string_view s);
  void bin(std::string_view b);
  void array_head(uint32_t n);
  void map_head(uint32_t n);

 private:
  void put_be(uint64_t v, int bytes);
  std::string& out_;
};

enum class Type : uint8_t { kNil, kBool, kUint, kInt, kFloat, kStr, kBin, kArray, kMap, kExt, kInvalid };

// Reads values in order from a byte span. A failed read leaves the reader failed (every later read
// fails too), so callers may check failed() once at the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  // Type of the next value (kInvalid at the end of input or on a reserved byte).
  Type peek() const;
  bool at_end() const { return pos_ >= data_.size(); }
  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool failed() const { return failed_; }

  bool read_nil();
  bool read_bool(bool& v);
  // Any integer; a negative one fails read_uint. read_int fails above INT64_MAX.
  bool read_uint(uint64_t& v);
  bool read_int(int64_t& v);
  // Any integer, negative ones reinterpreted as their two's-complement uint64 (block hashes
  // published as int64 by some producers).
  bool read_u64_bits(uint64_t& v);
  // float32, float64, or an integer.
  bool read_number(double& v);
  bool read_str(std::string_view& v);
  bool read_bin(std::string_view& v);
  // Headers: the count is checked against the bytes left (each element needs at least one byte).
  bool read_array(uint32_t& n);
  bool read_map(uint32_t& n);
  // Skips one complete value of any type, without recursion.
  bool skip();

 private:
  bool fail() {
    failed_ = true;
    return false;
  }
  bool take(size_t n, std::string_view& out);
  bool read_be(int bytes, uint64_t& v);
  // Reads an integer head; `negative` set when the value is a negative signed integer.
  bool read_integer(uint64_t& bits, bool& negative);
  bool read_container(uint8_t fix_base, uint8_t fix_mask, uint8_t b16, uint8_t b32, uint32_t& n,
                      size_t per_item);

  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace llmd::kvevents::msgpack
