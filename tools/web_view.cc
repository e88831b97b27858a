#include "web_view.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"
#include "caboose/engine/dot.h"
#include "caboose/jobs/board_metrics.h"

namespace caboose::cli {
namespace {

constexpr const char* kStyle = R"CSS(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; }
header { background: #1d2430; color: #fff; padding: 10px 20px; }
header a { color: #cfe3ff; margin-right: 16px; text-decoration: none; }
header strong { margin-right: 24px; }
main { padding: 16px 20px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid #dde3ea; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f2f5f8; }
code, pre { font-family: ui-monospace, monospace; font-size: 12px; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; max-width: 1100px; }
.state-CLAIMED, .state-RUNNING { color: #0b5cad; }
.state-SUCCESS { color: #1a7f37; }
.state-FAILURE, .state-TRASHED, .state-REVERT_FAILURE { color: #b42318; }
.note { background: #fff8c5; padding: 6px 10px; display: inline-block; }
.muted { color: #6b7480; }
form.inline { display: inline; }
button { cursor: pointer; }
)CSS";

std::string time_text(const std::optional<jobs::TimePoint>& t) {
  return t ? jobs::format_time(*t) : std::string("-");
}

std::string state_cell(std::string_view state) {
  return fmt::format("<td class=\"state-{0}\">{0}</td>", html_escape(state));
}

std::string job_link(const jobs::Job& job) {
  return fmt::format("<a href=\"/jobs/{}\">{}</a>", url_encode(job.uuid), html_escape(job.name));
}

std::string short_json(const Value& v, std::size_t limit = 200) {
  std::string text = v.is_null() ? "" : v.dump();
  if (text.size() > limit) {
    text = text.substr(0, limit) + "…";
  }
  return html_escape(text);
}

HttpResponse page(const std::string& title, const std::string& body, int status = 200) {
  return HttpResponse{
      .status = status,
      .body = fmt::format(
          "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>{} · caboose</title><style>{}</style></head><body>"
          "<header><strong>caboose</strong><a href=\"/\">Board</a><a href=\"/jobs\">Jobs</a>"
          "<a href=\"/bin\">Garbage bin</a><a href=\"/books\">Logbooks</a>"
          "<a href=\"/conductors\">Conductors</a><a href=\"/metrics\">Metrics</a></header>"
          "<main><h1>{}</h1>\n{}</main></body></html>\n",
          html_escape(title), kStyle, html_escape(title), body)};
}

HttpResponse not_found(const std::string& what) {
  return page("Not found", "<p>" + html_escape(what) + "</p>", 404);
}

HttpResponse redirect(const std::string& to) {
  return HttpResponse{.status = 303,
                      .content_type = "text/plain; charset=utf-8",
                      .body = "see " + to + "\n",
                      .headers = {{"Location", to}}};
}

// Runs `program` with `input` on its standard input; its standard output, or nullopt if it
// cannot run, fails or takes longer than 10 s.
std::optional<std::string> filter(const std::string& program, const std::vector<std::string>& args,
                                  const std::string& input) {
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    return std::nullopt;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return std::nullopt;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::execv(program.c_str(), argv.data());
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  if (pid < 0) {
    ::close(in[1]);
    ::close(out[0]);
    return std::nullopt;
  }
  std::string result;
  std::size_t written = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool writing = true;
  bool ok = true;
  if (input.empty()) {
    ::close(in[1]);
    writing = false;
  }
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      ok = false;
      break;
    }
    pollfd fds[2] = {{out[0], POLLIN, 0}, {writing ? in[1] : -1, POLLOUT, 0}};
    if (::poll(fds, 2, static_cast<int>(left)) < 0) {
      continue;
    }
    if (writing && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
      if (n <= 0 || written == input.size()) {
        ::close(in[1]);
        writing = false;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buffer[16384];
      const ssize_t n = ::read(out[0], buffer, sizeof buffer);
      if (n <= 0) {
        break;
      }
      result.append(buffer, static_cast<std::size_t>(n));
    }
  }
  if (writing) {
    ::close(in[1]);
  }
  ::close(out[0]);
  if (!ok) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return std::nullopt;
  }
  return result;
}

}  // namespace

WebView::WebView(jobs::JobBoard& board, persistence::Backend& backend,
                 const conductors::FlowRegistry& registry, WebViewOptions options)
    : board_(board), backend_(backend), registry_(registry), options_(std::move(options)) {
  jobs::add_board_metrics(metrics_, board_, std::chrono::seconds(1));
}

HttpResponse WebView::handle(const HttpRequest& request) {
  const std::string& path = request.path;
  const auto under = [&](std::string_view prefix) {
    return path.size() > prefix.size() && path.rfind(prefix, 0) == 0;
  };
  if (request.method == "POST") {
    for (const char* action : {"/bin/requeue", "/bin/purge", "/bin/purge-all"}) {
      if (path == action) {
        return bin_action(request, path.substr(5));
      }
    }
    return page("Not allowed", "<p>Nothing to post here.</p>", 405);
  }
  if (request.method != "GET" && request.method != "HEAD") {
    return page("Not allowed", "<p>Only GET and POST.</p>", 405);
  }
  const auto params = request.params();
  const auto param = [&](const std::string& key) {
    const auto it = params.find(key);
    return it == params.end() ? std::string() : it->second;
  };
  if (path == "/") {
    return overview();
  }
  if (path == "/jobs") {
    return jobs_page(param("state"));
  }
  if (under("/jobs/")) {
    return job_page(path.substr(6));
  }
  if (path == "/bin") {
    return bin_page(param("done"));
  }
  if (path == "/books") {
    return books_page();
  }
  if (under("/books/")) {
    return book_page(path.substr(7));
  }
  if (under("/flows/")) {
    return flow_page(path.substr(7));
  }
  if (path == "/conductors") {
    return conductors_page();
  }
  if (path == "/metrics") {
    return HttpResponse{.content_type = kMetricsContentType, .body = metrics_.expose()};
  }
  if (path == "/favicon.ico") {
    return HttpResponse{.status = 404, .content_type = "text/plain", .body = ""};
  }
  return not_found("No page " + path + ".");
}

HttpResponse WebView::overview() {
  const std::vector<jobs::Job> jobs = board_.iterjobs();
  const std::size_t trashed = board_.trashed().size();
  const jobs::TimePoint at = jobs::now();
  constexpr std::array<jobs::JobPriority, 5> kPriorities = {
      jobs::JobPriority::kVeryHigh, jobs::JobPriority::kHigh, jobs::JobPriority::kNormal,
      jobs::JobPriority::kLow, jobs::JobPriority::kVeryLow};
  constexpr std::array<const char*, 3> kStates = {"claimable", "waiting", "claimed"};
  std::map<std::pair<std::string, std::string>, int> counts;
  for (const jobs::Job& job : jobs) {
    ++counts[{std::string(jobs::availability(job, at)), std::string(to_string(job.priority))}];
  }
  std::string body = fmt::format(
      "<p>Board <code>{}</code>, persistence <code>{}</code>.</p>"
      "<p><span id=\"job-count\">{}</span> jobs on the board; <a href=\"/bin\"><span "
      "id=\"bin-count\">{}</span> in the garbage bin</a>.</p>"
      "<table id=\"depth\"><tr><th>priority</th>",
      html_escape(options_.board_shown), html_escape(options_.persistence_shown), jobs.size(),
      trashed);
  for (const char* s : kStates) {
    body += fmt::format("<th><a href=\"/jobs?state={0}\">{0}</a></th>", s);
  }
  body += "</tr>";
  for (const jobs::JobPriority p : kPriorities) {
    body += fmt::format("<tr><td>{}</td>", to_string(p));
    for (const char* s : kStates) {
      const auto it = counts.find({s, std::string(to_string(p))});
      body += fmt::format("<td>{}</td>", it == counts.end() ? 0 : it->second);
    }
    body += "</tr>";
  }
  body += "</table>";
  const Value entities = board_.entities();
  body += fmt::format("<p><a href=\"/conductors\">{} conductors registered</a>.</p>",
                      entities.is_object() || entities.is_array() ? entities.size() : 0);
  return page("Board", body);
}

HttpResponse WebView::jobs_page(const std::string& state) {
  const jobs::TimePoint at = jobs::now();
  std::string rows;
  int shown = 0;
  for (const jobs::Job& job : board_.iterjobs()) {
    const std::string viewed = std::string(jobs::availability(job, at));
    if (!state.empty() && viewed != state) {
      continue;
    }
    ++shown;
    rows += fmt::format(
        "<tr data-job=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>",
        html_escape(job.uuid), job_link(job), html_escape(viewed), to_string(job.priority),
        job.attempts, job.max_attempts, html_escape(job.owner.value_or("-")),
        time_text(job.lease_until), time_text(job.not_before),
        job.last_failure ? html_escape(job.last_failure->to_string()) : "-");
  }
  const std::string title = state.empty() ? "Jobs" : "Jobs: " + state;
  return page(title,
              fmt::format("<p>{} jobs.</p><table id=\"jobs\"><tr><th>job</th><th>state</th>"
                          "<th>priority</th><th>attempts</th><th>owner</th><th>lease "
                          "until</th><th>not before</th><th>last failure</th></tr>{}</table>",
                          shown, rows));
}

HttpResponse WebView::job_page(const std::string& uuid) {
  const std::optional<jobs::Job> found = board_.find(uuid);
  if (!found) {
    return not_found("No job " + uuid + " on the board or in its bin.");
  }
  const jobs::Job& job = *found;
  std::string body = "<table id=\"job\">";
  const auto row = [&](const char* name, const std::string& html) {
    body += fmt::format("<tr><th>{}</th><td>{}</td></tr>", name, html);
  };
  row("uuid", "<code>" + html_escape(job.uuid) + "</code>");
  row("state", std::string(jobs::availability(job, jobs::now())));
  row("priority", std::string(to_string(job.priority)));
  row("attempts", fmt::format("{} of {}", job.attempts, job.max_attempts));
  row("owner", html_escape(job.owner.value_or("-")));
  row("lease until", time_text(job.lease_until));
  row("not before", time_text(job.not_before));
  row("posted", jobs::format_time(job.created_on));
  row("last modified", jobs::format_time(job.last_modified));
  if (job.trash_reason) {
    row("trashed because", html_escape(*job.trash_reason));
  }
  if (job.book_uuid) {
    row("logbook", fmt::format("<a href=\"/books/{}\">{}</a>", url_encode(*job.book_uuid),
                               html_escape(job.book_name.value_or(*job.book_uuid))));
  }
  if (job.details.contains("flow_uuid") && job.details["flow_uuid"].is_string()) {
    const std::string flow = job.details["flow_uuid"].get<std::string>();
    row("flow", fmt::format("<a href=\"/flows/{}\">{}</a>", url_encode(flow), html_escape(flow)));
  }
  row("details", "<pre>" + html_escape(job.details.dump(2)) + "</pre>");
  body += "</table>";
  if (job.last_failure) {
    body += "<h2>Last failure</h2><pre id=\"last-failure\">" +
            html_escape(job.last_failure->to_dict().dump(2)) + "</pre>";
  }
  return page("Job " + job.name, body);
}

HttpResponse WebView::bin_page(const std::string& done) {
  const std::vector<jobs::Job> trashed = board_.trashed();
  std::string body;
  if (!done.empty()) {
    body += "<p class=\"note\" id=\"done\">" + html_escape(done) + "</p>";
  }
  if (!options_.allow_write) {
    body +=
        "<p class=\"muted\">Read-only: start <code>caboose serve</code> with "
        "<code>--allow-write</code> to requeue or purge.</p>";
  }
  body += fmt::format("<p><span id=\"bin-count\">{}</span> trashed jobs.</p>", trashed.size());
  body +=
      "<table id=\"bin\"><tr><th>job</th><th>attempts</th><th>reason</th><th>last "
      "modified</th><th></th></tr>";
  for (const jobs::Job& job : trashed) {
    // The confirmations name no job: nothing a poster wrote goes into script.
    body += fmt::format(
        "<tr data-job=\"{0}\"><td>{1}</td><td>{2}/{3}</td><td>{4}</td><td>{5}</td><td>"
        "<form class=\"inline\" method=\"post\" action=\"/bin/requeue\" "
        "onsubmit=\"return confirm('Put this job back on the board?')\">"
        "<input type=\"hidden\" name=\"job\" value=\"{0}\"><input type=\"hidden\" "
        "name=\"confirm\" value=\"yes\"><button class=\"requeue\">Requeue</button></form> "
        "<form class=\"inline\" method=\"post\" action=\"/bin/purge\" "
        "onsubmit=\"return confirm('Delete this job for good?')\">"
        "<input type=\"hidden\" name=\"job\" value=\"{0}\"><input type=\"hidden\" "
        "name=\"confirm\" value=\"yes\"><button class=\"purge\">Purge</button></form>"
        "</td></tr>",
        html_escape(job.uuid), job_link(job), job.attempts, job.max_attempts,
        html_escape(job.trash_reason.value_or("-")), jobs::format_time(job.last_modified));
  }
  body += "</table>";
  if (!trashed.empty()) {
    body +=
        "<form method=\"post\" action=\"/bin/purge-all\" onsubmit=\"return confirm('Delete "
        "every trashed job for good?')\"><input type=\"hidden\" name=\"confirm\" "
        "value=\"yes\"><button id=\"purge-all\">Purge all</button></form>";
  }
  return page("Garbage bin", body);
}

HttpResponse WebView::bin_action(const HttpRequest& request, const std::string& action) {
  if (!options_.allow_write) {
    return page("Refused",
                "<p>This view is read-only: start <code>caboose serve</code> with "
                "<code>--allow-write</code> to change the garbage bin.</p>",
                403);
  }
  // A form posted from another site (cross-site request forgery) is refused.
  const auto origin = request.headers.find("origin");
  const auto host = request.headers.find("host");
  if (origin != request.headers.end() &&
      (host == request.headers.end() || origin->second != "http://" + host->second)) {
    return page("Refused", "<p>A change must come from this view's own pages.</p>", 403);
  }
  const auto params = request.params();
  if (!params.contains("confirm") || params.at("confirm") != "yes") {
    return page("Not confirmed", "<p>Changes need confirm=yes.</p>", 400);
  }
  if (action == "purge-all") {
    const std::size_t purged = board_.purge_all();
    return redirect("/bin?done=" + url_encode(fmt::format("purged {} jobs", purged)));
  }
  const auto job = params.find("job");
  if (job == params.end() || job->second.empty()) {
    return page("Which job?", "<p>The form names no job.</p>", 400);
  }
  try {
    if (action == "requeue") {
      const jobs::Job back = board_.requeue(job->second);
      return redirect("/bin?done=" +
                      url_encode(fmt::format("requeued {} ({})", back.name, back.uuid)));
    }
    board_.purge(job->second);
    return redirect("/bin?done=" + url_encode("purged " + job->second));
  } catch (const NotFound& e) {
    return page("Not in the bin", "<p>" + html_escape(e.what()) + "</p>", 404);
  }
}

HttpResponse WebView::books_page() {
  std::vector<persistence::LogBook> books = backend_.get_logbooks(/*lazy=*/true);
  std::string body = fmt::format(
      "<p>{} logbooks.</p><table id=\"books\"><tr><th>logbook</th>"
      "<th>uuid</th><th>created</th><th>updated</th></tr>",
      books.size());
  const auto when = [](const std::optional<persistence::Timestamp>& t) {
    return t ? jobs::format_time(std::chrono::time_point_cast<jobs::TimePoint::duration>(*t))
             : std::string("-");
  };
  for (const persistence::LogBook& book : books) {
    body += fmt::format(
        "<tr><td><a href=\"/books/{}\">{}</a></td><td><code>{}</code></td><td>{}</td><td>{}</td>"
        "</tr>",
        url_encode(book.uuid), html_escape(book.name), html_escape(book.uuid),
        when(book.created_at), when(book.updated_at));
  }
  return page("Logbooks", body + "</table>");
}

HttpResponse WebView::book_page(const std::string& uuid) {
  persistence::LogBook book;
  try {
    book = backend_.get_logbook(uuid);
  } catch (const NotFound&) {
    return not_found("No logbook " + uuid + ".");
  }
  std::string body = fmt::format(
      "<p>Logbook <code>{}</code>.</p><table id=\"flows\"><tr>"
      "<th>flow</th><th>state</th><th>atoms</th><th>factory</th></tr>",
      html_escape(book.uuid));
  for (const persistence::FlowDetail& flow : book.flows) {
    std::string factory = "-";
    if (flow.meta.contains("factory") && flow.meta["factory"].is_object()) {
      factory = flow.meta["factory"].value("name", std::string("-"));
    }
    const std::string state = flow.state ? std::string(to_string(*flow.state)) : "-";
    body += fmt::format("<tr><td><a href=\"/flows/{}\">{}</a></td>{}<td>{}</td><td>{}</td></tr>",
                        url_encode(flow.uuid), html_escape(flow.name), state_cell(state),
                        flow.atoms.size(), html_escape(factory));
  }
  return page("Logbook " + book.name, body + "</table>");
}

HttpResponse WebView::flow_page(const std::string& uuid) {
  persistence::FlowDetail flow;
  try {
    flow = backend_.get_flow_details(uuid);
  } catch (const NotFound&) {
    return not_found("No flow detail " + uuid + ".");
  }
  std::string body = fmt::format(
      "<p>Flow <code>{}</code>: <span id=\"flow-state\" class=\"state-{}\">{}</span></p>",
      html_escape(flow.uuid), flow.state ? to_string(*flow.state) : "PENDING",
      flow.state ? to_string(*flow.state) : "not run yet");
  body += "<h2>Graph</h2>" + flow_svg(flow);
  body +=
      "<h2>Atoms</h2><table id=\"atoms\"><tr><th>atom</th><th>kind</th><th>state</th>"
      "<th>intention</th><th>result</th><th>failure</th></tr>";
  for (const persistence::AtomDetail& atom : flow.atoms) {
    body += fmt::format(
        "<tr data-atom=\"{0}\"><td>{0}</td><td>{1}</td>{2}<td>{3}</td><td><code>{4}</code></td>"
        "<td>{5}</td></tr>",
        html_escape(atom.name), atom.kind == persistence::AtomDetailKind::kRetry ? "retry" : "task",
        state_cell(to_string(atom.state)), to_string(atom.intention), short_json(atom.results),
        atom.failure ? html_escape(atom.failure->to_string()) : "");
  }
  body += "</table><h2>Meta</h2><pre>" + html_escape(flow.meta.dump(2)) + "</pre>";
  return page("Flow " + flow.name, body);
}

std::string WebView::flow_svg(const persistence::FlowDetail& flow) {
  std::string dot;
  try {
    const conductors::FactoryCall call = conductors::FactoryCall::from_meta(flow.meta);
    if (!registry_.contains(call.name)) {
      return "<p class=\"muted\">Its factory <code>" + html_escape(call.name) +
             "</code> is not in this program: no graph.</p>";
    }
    dot = engine::to_dot(*registry_.make(call), flow);
  } catch (const std::exception& e) {
    return "<p class=\"muted\">No graph: " + html_escape(e.what()) + "</p>";
  }
  const std::optional<std::string> svg = filter(options_.dot, {"-Tsvg"}, dot);
  if (!svg) {
    return "<p class=\"muted\">No graph: Graphviz's <code>" + html_escape(options_.dot) +
           "</code> could not draw it (Debian's graphviz package).</p><pre>" + html_escape(dot) +
           "</pre>";
  }
  // The SVG document without its XML prolog and doctype, inline.
  const std::size_t start = svg->find("<svg");
  return "<div id=\"graph\">" + (start == std::string::npos ? *svg : svg->substr(start)) + "</div>";
}

HttpResponse WebView::conductors_page() {
  const Value entities = board_.entities();
  std::string body = "<table id=\"conductors\"><tr><th>name</th><th>details</th></tr>";
  int count = 0;
  const auto add = [&](const std::string& name, const Value& details) {
    ++count;
    body += fmt::format("<tr><td>{}</td><td><pre>{}</pre></td></tr>", html_escape(name),
                        html_escape(details.dump(2)));
  };
  if (entities.is_object()) {
    for (const auto& [name, details] : entities.items()) {
      add(name, details);
    }
  } else if (entities.is_array()) {
    for (const Value& e : entities) {
      add(e.value("name", std::string("?")), e);
    }
  }
  body += "</table>";
  return page("Conductors", fmt::format("<p>{} registered on the board.</p>", count) + body);
}

}  // namespace caboose::cli
