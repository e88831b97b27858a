#include "reliability/chaos.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <sqlite3.h>

#include "caboose/core/errors.h"

namespace caboose::reliability {

std::vector<Effect> read_ledger(const std::string& path) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return {};  // nothing ran
  }
  const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(),
                         "SELECT job_uuid, atom, token, attempt, conductor, pid, at_us FROM "
                         "effects ORDER BY rowid",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return {};
  }
  std::vector<Effect> out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    auto text = [&](int col) {
      const unsigned char* t = sqlite3_column_text(stmt, col);
      return t != nullptr ? std::string(reinterpret_cast<const char*>(t)) : std::string();
    };
    out.push_back(Effect{text(0), text(1), sqlite3_column_int64(stmt, 2),
                         sqlite3_column_int64(stmt, 3), text(4), sqlite3_column_int64(stmt, 5),
                         sqlite3_column_int64(stmt, 6)});
  }
  sqlite3_finalize(stmt);
  return out;
}

std::size_t count_refused(const std::string& path) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return 0;
  }
  const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT count(*) FROM refused", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return 0;  // no table: nothing was refused
  }
  std::size_t n = 0;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    n = static_cast<std::size_t>(sqlite3_column_int64(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return n;
}

std::string Report::problems_text() const {
  std::string text;
  for (const std::string& p : problems) {
    text += p + "\n";
  }
  return text;
}

double Report::percentile(std::vector<double> ms, double p) {
  if (ms.empty()) {
    return 0;
  }
  std::sort(ms.begin(), ms.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * ms.size()));
  return ms[std::clamp<std::size_t>(rank, 1, ms.size()) - 1];
}

Value Report::to_value() const {
  return Value{{"jobs", jobs},
               {"consumed", consumed},
               {"trashed", trashed},
               {"pending", pending},
               {"effects", effects},
               {"takeovers", takeovers},
               {"takeover_ms_median", takeover_percentile(50)},
               {"takeover_ms_p99", takeover_percentile(99)},
               {"direct_takeover_ms_median", percentile(direct_takeover_ms, 50)},
               {"direct_takeover_ms_p99", percentile(direct_takeover_ms, 99)},
               {"takeovers_after_empty_claims", takeovers_after_empty_claims},
               {"violations",
                {{"lost", lost_violations},
                 {"duplicate_run", duplicate_run_violations},
                 {"result", result_violations},
                 {"stale_effect", stale_effect_violations},
                 {"trash", trash_violations},
                 {"rerun_after_success", rerun_after_success_violations}}}};
}

Report check(const std::vector<PostedJob>& posted, jobs::JobBoard& board,
             persistence::Backend& persistence, const std::vector<Effect>& effects, int tasks,
             const std::map<std::string, std::int64_t>& succeeded) {
  Report r;
  r.jobs = posted.size();
  r.effects = effects.size();
  std::map<std::string, std::vector<const Effect*>> by_job;
  for (const Effect& e : effects) {
    by_job[e.job_uuid].push_back(&e);  // in the order the ledger accepted them
  }
  std::map<std::string, jobs::Job> in_bin;
  for (jobs::Job& job : board.trashed()) {
    in_bin.emplace(job.uuid, std::move(job));
  }

  for (const PostedJob& p : posted) {
    // INV-1: where the job is now.
    const std::optional<jobs::Job> on_board = board.find(p.job_uuid);
    bool consumed = false;
    if (const auto bin = in_bin.find(p.job_uuid); bin != in_bin.end()) {
      ++r.trashed;
      const jobs::Job& job = bin->second;
      if (!job.trash_reason || job.trash_reason->empty()) {
        ++r.trash_violations;
        r.problems.push_back(fmt::format("job {} trashed without a reason", p.job_uuid));
      } else if (job.attempts < job.max_attempts) {
        ++r.trash_violations;
        r.problems.push_back(fmt::format("job {} trashed after {} of {} attempts: {}", p.job_uuid,
                                         job.attempts, job.max_attempts, *job.trash_reason));
      }
    } else if (on_board) {
      ++r.pending;
    } else {
      consumed = true;
      ++r.consumed;
    }

    // INV-4: an atom runs at most once per claim (so no more often than the job was claimed).
    const auto& job_effects = by_job[p.job_uuid];
    std::map<std::pair<std::string, std::int64_t>, int> per_claim;
    std::map<std::string, int> per_atom;
    for (const Effect* e : job_effects) {
      ++per_atom[e->atom];
      if (++per_claim[{e->atom, e->token}] == 2) {
        ++r.duplicate_run_violations;
        r.problems.push_back(
            fmt::format("job {} atom {} ran twice under claim {}", p.job_uuid, e->atom, e->token));
      }
    }

    // INV-2/3: once a newer claim worked on the job, no older claim works on it again; the
    // takeover gaps between consecutive claims.
    std::int64_t newest = 0;
    std::int64_t newest_attempt = 0;
    std::int64_t newest_last_at = 0;
    std::string newest_conductor;
    for (const Effect* e : job_effects) {
      if (e->token < newest) {
        ++r.stale_effect_violations;
        r.problems.push_back(fmt::format("job {} atom {}: claim {} worked after claim {} began",
                                         p.job_uuid, e->atom, e->token, newest));
      } else if (e->token > newest) {
        if (newest != 0) {
          const double gap_ms = static_cast<double>(e->at_us - newest_last_at) / 1000.0;
          ++r.takeovers;
          r.takeover_ms.push_back(gap_ms);
          r.slowest_takeovers.push_back({p.job_uuid, newest_conductor, e->conductor, newest_last_at,
                                         e->at_us, newest_attempt, e->attempt});
          if (e->attempt == newest_attempt + 1) {
            r.direct_takeover_ms.push_back(gap_ms);
          } else {
            ++r.takeovers_after_empty_claims;
          }
        }
        newest = e->token;
        newest_attempt = e->attempt;
      }
      if (e->token == newest) {
        newest_last_at = e->at_us;
        newest_conductor = e->conductor;
      }
    }

    // INV-4: once its flow succeeded under a claim, no later claim runs any of its atoms.
    if (const auto done = succeeded.find(p.job_uuid); done != succeeded.end()) {
      for (const Effect* e : job_effects) {
        if (e->token > done->second) {
          ++r.rerun_after_success_violations;
          r.problems.push_back(fmt::format(
              "job {} atom {} ran under claim {} although its flow had succeeded under claim {}",
              p.job_uuid, e->atom, e->token, done->second));
        }
      }
    }

    // INV-4/5: a consumed job's flow succeeded, every atom with its one expected result.
    if (consumed) {
      try {
        const persistence::FlowDetail flow = persistence.get_flow_details(p.flow_uuid);
        bool ok = flow.state == FlowState::kSuccess;
        for (int i = 1; ok && i <= tasks; ++i) {
          const std::string name = fmt::format("step-{}", i);
          const persistence::AtomDetail* atom = flow.find_by_name(name);
          const Value expected = p.job_uuid + "/" + name;
          ok = atom != nullptr && atom->state == AtomState::kSuccess &&
               (atom->results == expected ||
                (atom->results.is_object() && atom->results.value("id", Value()) == expected)) &&
               per_atom.contains(name);  // it ran (its effect is in the ledger)
        }
        if (!ok && flow.state != FlowState::kSuccess) {
          // Gone from the board and the bin with its flow unfinished: not consumed, lost.
          ++r.lost_violations;
          r.problems.push_back(
              fmt::format("job {} vanished: not on the board, not in the bin, its flow unfinished",
                          p.job_uuid));
        } else if (!ok) {
          ++r.result_violations;
          r.problems.push_back(fmt::format(
              "job {} consumed but an atom's persisted state or result is wrong", p.job_uuid));
        }
      } catch (const Error& e) {
        ++r.result_violations;
        r.problems.push_back(fmt::format("job {}: {}", p.job_uuid, e.what()));
      }
    }
  }
  // Effects of jobs nobody posted would mean the ledger or the board is confused.
  std::set<std::string> known;
  for (const PostedJob& p : posted) {
    known.insert(p.job_uuid);
  }
  for (const auto& [job, list] : by_job) {
    if (!known.contains(job)) {
      ++r.lost_violations;
      r.problems.push_back(fmt::format("effects of unknown job {}", job));
    }
  }
  const auto slower = [](const Report::Takeover& a, const Report::Takeover& b) {
    return a.to_us - a.from_us > b.to_us - b.from_us;
  };
  const std::size_t keep = std::min<std::size_t>(5, r.slowest_takeovers.size());
  std::partial_sort(r.slowest_takeovers.begin(),
                    r.slowest_takeovers.begin() + static_cast<std::ptrdiff_t>(keep),
                    r.slowest_takeovers.end(), slower);
  r.slowest_takeovers.resize(keep);
  return r;
}

}  // namespace caboose::reliability
