// Posts a job on an embedded SQLite board, as a TaskFlow poster would, and has a conductor run
// it with a factory of this program's own: the consumed job and its flow's results are printed.
// Usage: consumer <scratch dir>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "caboose/atoms/functor_task.h"
#include "caboose/conductors/conductor.h"
#include "caboose/conductors/flow_registry.h"
#include "caboose/conductors/post.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/persistence/fetch.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer <scratch dir>\n";
    return 2;
  }
  const std::string dir = argv[1];
  caboose::conductors::FlowRegistry registry;
  registry.add("consumer.greet", [](const caboose::Value&, const caboose::Value& kwargs) {
    auto flow = caboose::linear_flow("greet");
    const std::string who = kwargs.value("who", std::string("nobody"));
    flow->add(caboose::task("greet", [who] { return "hello, " + who; }, {.provides = "greeting"}));
    return flow;
  });
  auto board = caboose::jobs::fetch_jobboard("sqlite:///" + dir + "/board.db");
  auto backend = caboose::persistence::fetch("sqlite:///" + dir + "/flows.db");

  const caboose::jobs::Job job = caboose::conductors::post_flow_job(
      *board, *backend,
      {.name = "greet",
       .factory = {.name = "consumer.greet",
                   .kwargs = caboose::Value{{"who", "outside project"}}}});

  caboose::conductors::BlockingConductor conductor("consumer", *board, *backend, registry);
  conductor.run(/*max_dispatches=*/1);
  const caboose::persistence::FlowDetail done =
      backend->get_flow_details(job.details.at("flow_uuid").get<std::string>());
  std::cout << "job " << (board->find(job.uuid) ? "still on the board" : "consumed") << "\n";
  for (const caboose::persistence::AtomDetail& atom : done.atoms) {
    std::cout << atom.name << ": " << atom.results.dump() << "\n";
  }
  return 0;
}
