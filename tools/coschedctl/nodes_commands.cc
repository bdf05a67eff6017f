// File: tools/coschedctl/nodes_commands.cc
// `get nodes`: the workers the scheduler knows, their state and what they run.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/coschedctl/command.h"
#include "tools/coschedctl/format.h"
#include "tools/coschedctl/table.h"

namespace cosched::coschedctl {
namespace {

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

int GetNodes(const Context& context) {
  absl::StatusOr<cosched::v1::ListNodesReply> reply = context.client->ListNodes();
  if (!reply.ok()) return ReportFailure(context, "get nodes", reply.status());
  if (context.format == OutputFormat::kJson) {
    PrintJson(ProtoToJson(*reply));
    return kExitOk;
  }
  if (reply->nodes().empty()) {
    Print("No nodes: no worker is registered.\n");
    return kExitOk;
  }
  Table table({"NODE", "KIND", "STATE", "JOB", "CPUS", "LINK", "ZONE", "HEARTBEAT", "DEPARTURES",
               "SERVICE/IMAGE", "MODEL", "REASON"});
  for (size_t column : {4, 5, 7, 8, 9}) table.AlignRight(column);
  for (const cosched::v1::NodeStatus& node : reply->nodes()) {
    table.AddRow({node.node_id(), node.kind(), node.state(), OrDash(node.job_id()),
                  absl::StrCat(node.cpus()), absl::StrFormat("%.0fMb/s", node.link_mbps()),
                  OrDash(node.zone()), absl::StrCat(Age(node.seconds_since_heartbeat()), " ago"),
                  absl::StrCat(node.recent_departures()),
                  node.service_seconds_per_image() > 0
                      ? absl::StrFormat("%.0fus", node.service_seconds_per_image() * 1e6)
                      : "-",
                  node.served_model().empty()
                      ? "-"
                      : absl::StrCat(node.served_model(), "@", node.served_version()),
                  node.ineligible_reason()});
  }
  Print(table.Render());
  return kExitOk;
}

}  // namespace

std::vector<Command> NodeCommands() {
  return {{{"get", "nodes"},
           "",
           0,
           0,
           "list workers: kind, state, job, heartbeat, departures, inference service, model",
           nullptr,
           GetNodes}};
}

}  // namespace cosched::coschedctl
