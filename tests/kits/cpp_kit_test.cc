// The C++ kit (installed danvan.hpp) against the installed libdanvan.so. Run by cpp_kit_test.sh.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "danvan.hpp"

static int g_failures = 0;
#define CHECK(c, msg)                                                      \
  do {                                                                     \
    if (!(c)) {                                                            \
      ++g_failures;                                                        \
      std::cerr << "FAIL " << __LINE__ << ": " << msg << std::endl;        \
    }                                                                      \
  } while (0)

static size_t Count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

int main(int argc, char** argv) {
  if (argc < 5) return 2;
  const std::string lib_path = argv[1], work = argv[2], build = argv[3], source = argv[4];
  // ABI refusal.
  try {
    danvan::Library other(lib_path, DANVAN_ABI_MAJOR + 1);
    CHECK(false, "ABI 2 accepted");
  } catch (const danvan::AbiMismatch& e) {
    CHECK(std::string(e.what()).find("host ABI 2, plugin ABI 1") != std::string::npos, e.what());
  }
  danvan::Library lib(lib_path);
  {
    std::ifstream maps("/proc/self/maps");
    std::string line, seen;
    while (std::getline(maps, line)) {
      if (line.find(build) != std::string::npos || line.find(source) != std::string::npos)
        CHECK(false, "mapped from the build/source tree: " << line);
      if (line.find("libdanvan") != std::string::npos) seen = line;
    }
    CHECK(seen.find(work.substr(0, work.rfind('/'))) != std::string::npos, "libdanvan not from the prefix: " << seen);
  }
  // A bad configuration.
  try {
    danvan::Plugin bad(lib, R"({"storage":{"engine":"mysql"},"bogus":1})");
    CHECK(false, "bad config accepted");
  } catch (const danvan::InvalidInput& e) {
    CHECK(e.HasCode("schema.unknown_field") && e.document().find("\"path\":\"/bogus\"") != std::string::npos,
          e.document());
  }
  const std::string db = work + "/cpp.sqlite";
  const std::string cfg = R"({"instance":"cpp-kit","storage":{"engine":"sqlite","path":")" + db + R"(","synchronous":"normal"}})";
  std::atomic<int> logs{0};
  danvan::Callbacks cb;
  cb.log = [&](int, std::string_view line) {
    logs++;
    if (line.find("\"instance\":\"cpp-kit\"") == std::string_view::npos) throw std::runtime_error("no instance");
    throw std::runtime_error("a host callback that throws");
  };
  {
    danvan::Plugin p(lib, cfg, cb);
    CHECK(logs > 0 && p.callback_errors() == logs, "callback exceptions not caught: " << p.callback_errors());
    p.Start();
    try {
      danvan::Plugin second(lib, cfg);
      CHECK(false, "second open accepted");
    } catch (const danvan::BadState& e) {
      CHECK(e.HasCode("store.locked") && e.document().find("cpp-kit") != std::string::npos, e.document());
    }
    // The sample data, in batches of 250 lines.
    std::ifstream in(work + "/sample.jsonl", std::ios::binary);
    std::string line, batch;
    size_t accepted = 0, rejected = 0, n = 0;
    auto flush = [&] {
      if (batch.empty()) return;
      auto r = p.SubmitBatch(batch);
      accepted += Count(r.json, "\"outcome\":\"accepted\"");
      rejected += Count(r.json, "\"outcome\":\"rejected\"");
      batch.clear();
    };
    while (std::getline(in, line)) {
      batch += line + "\n";
      if (++n % 250 == 0) flush();
    }
    flush();
    std::ifstream mf(work + "/sample.manifest.json");
    std::stringstream ms;
    ms << mf.rdbuf();
    const std::string m = ms.str();
    CHECK(m.find("\"accepted\": " + std::to_string(accepted) + ",") != std::string::npos, "accepted " << accepted);
    CHECK(m.find("\"rejected\": " + std::to_string(rejected) + ",") != std::string::npos, "rejected " << rejected);
    // A rejected event.
    try {
      p.Submit(R"({"kind":"petition","source":"cpp","id":"X1","version":1})");
      CHECK(false, "incomplete event accepted");
    } catch (const danvan::InvalidInput& e) {
      CHECK(e.HasCode("schema.required") && e.result().find("\"outcome\":\"rejected\"") != std::string::npos,
            e.document());
    }
    try {
      p.Query(R"({"op":"no.such"})");
      CHECK(false, "unknown op");
    } catch (const danvan::NotFound& e) {
      CHECK(e.HasCode("op.unknown"), e.document());
    }
  }
  // Close while other threads submit: each call succeeds or throws BadState; none hangs.
  {
    auto p = std::make_unique<danvan::Plugin>(lib, R"({"instance":"cpp-close","storage":{"engine":"sqlite","path":")" + work +
                                                       R"(/close.sqlite","synchronous":"normal"}})");
    std::atomic<int> ok{0}, closed{0}, other{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < 1000000; ++i) {
          std::string id = "C" + std::to_string(t) + "-" + std::to_string(i);
          std::string ev = R"({"kind":"dvk_model","source":"cpp","id":")" + id + R"(","version":1})";
          try {
            p->Submit(ev);
            ok++;
          } catch (const danvan::BadState&) {
            closed++;
            return;
          } catch (const danvan::InvalidInput&) {
            ok++;  // answered (the plugin rejected the incomplete event): the call completed
          } catch (...) {
            other++;
            return;
          }
        }
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    p->Close();
    for (auto& t : ts) t.join();
    CHECK(ok > 0 && closed == 4 && other == 0, "close under load: ok " << ok << " closed " << closed << " other " << other);
  }
  std::printf("c++ kit: %d failed\n", g_failures);
  return g_failures ? 1 : 0;
}
