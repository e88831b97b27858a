// The web view behind `caboose serve`: server-side HTML pages over one jobboard and one
// persistence backend, read-mostly. Pages:
//
//   /                 the board: jobs by state and priority, the garbage bin's size, conductors
//   /jobs[?state=S]   jobs (S: claimable, waiting, claimed)
//   /jobs/<uuid>      one job: attempts, owner, lease, backoff, last failure, its logbook
//   /bin              the garbage bin, with requeue and purge buttons (POST, confirmed; refused
//                     with 403 unless the view allows writes)
//   /books, /books/<uuid>, /flows/<uuid>
//                     logbooks, their flows, a flow's atoms with states and results, and its
//                     graph as SVG (the flow rebuilt by its factory, drawn by Graphviz's dot)
//   /conductors       the conductors registered on the board
//   /metrics          the board's depth in Prometheus's text format
//
// Everything shown is HTML-escaped; a POST from another origin is refused.
#pragma once

#include <memory>
#include <string>

#include "caboose/conductors/flow_registry.h"
#include "caboose/core/metrics.h"
#include "caboose/jobs/jobboard.h"
#include "caboose/persistence/backend.h"

#include "http_server.h"

namespace caboose::cli {

struct WebViewOptions {
  std::string board_shown;           // the board's URI, password hidden
  std::string persistence_shown;     // the backend's URI, password hidden
  bool allow_write = false;          // requeue and purge from the garbage bin
  std::string dot = "/usr/bin/dot";  // Graphviz, for flow graphs
};

class WebView {
 public:
  // The board, backend and registry must outlive the view.
  WebView(jobs::JobBoard& board, persistence::Backend& backend,
          const conductors::FlowRegistry& registry, WebViewOptions options);

  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse overview();
  HttpResponse jobs_page(const std::string& state);
  HttpResponse job_page(const std::string& uuid);
  HttpResponse bin_page(const std::string& done);
  HttpResponse bin_action(const HttpRequest& request, const std::string& action);
  HttpResponse books_page();
  HttpResponse book_page(const std::string& uuid);
  HttpResponse flow_page(const std::string& uuid);
  HttpResponse conductors_page();
  std::string flow_svg(const persistence::FlowDetail& flow);

  jobs::JobBoard& board_;
  persistence::Backend& backend_;
  const conductors::FlowRegistry& registry_;
  const WebViewOptions options_;
  MetricsRegistry metrics_;
};

}  // namespace caboose::cli
