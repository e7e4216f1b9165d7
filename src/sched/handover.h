#pragma once
// Parameters one plugin accepts on behalf of the producer it reads. Before llm-d split the approximate
// prefix producer out of prefix-cache-scorer, the scorer owned the prefix index and took its parameters
// (blockSizeTokens, lruCapacityPerServer, ...); configs written then still put them on the scorer
// (llm-d-inference-scheduler deploy/config/sim-pd-epp-config.yaml, GIE site-src/guides/epp-configuration/
// config-text.md), and the transition code shared them with the producer it split off (GIE's
// ApproxPrefixCache prepare-data plugin, package preparedata, which kept the scorer's type "since the
// parameters are passed to the prefix cache scorer plugin"). The loader gives them to the producer it
// auto-creates, or checks them against the producer configured explicitly.

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace llmd::sched {

struct HandedOverParameters {
  std::string producer_type;  // the type whose parameters these are
  std::string producer_name;  // the instance the carrying plugin reads
  // A mapping holding only those keys, decoded by the producer's factory. Its path is the carrier's
  // `plugins[i].parameters`, so errors name the key where the user wrote it.
  config::Node parameters;
};

// A plugin that may carry parameters for its producer.
class CarriesProducerParameters {
 public:
  virtual ~CarriesProducerParameters() = default;
  // Null when the configuration gave none.
  virtual const HandedOverParameters* handed_over_parameters() const = 0;
};

// A plugin that can say which value it uses for one of its parameters, spelled as a config would
// (`31250`, `true`); nullopt for keys it does not know. Used to find conflicts with handed-over values.
class DescribesParameters {
 public:
  virtual ~DescribesParameters() = default;
  virtual std::optional<std::string> parameter_value(std::string_view key) const = 0;
};

}  // namespace llmd::sched
