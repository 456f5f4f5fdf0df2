// The Java kit (installed sources, built into danvan-kit.jar) against the installed libdanvan.so.
import danvan.BatchingSubmitter;
import danvan.Danvan;
import danvan.DanvanException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

public class KitTest {
  static int failures = 0;

  static void check(boolean c, String msg) {
    if (!c) {
      failures++;
      System.err.println("FAIL: " + msg);
    }
  }

  static String petition(String id, String title) {
    return "{\"kind\":\"petition\",\"source\":\"java-kit\",\"id\":\"" + id + "\",\"unit\":\"SGDDT.TTRA\","
        + "\"version\":1,\"event_time\":\"2023-03-02T09:15:00+07:00\",\"data\":{"
        + "\"petition_kind\":\"complaint\",\"round\":1,\"title\":\"" + title + "\","
        + "\"content\":\"Phụ huynh khiếu nại kết quả phúc khảo.\","
        + "\"received_at\":\"2023-03-02T09:00:00+07:00\",\"channel\":\"direct\","
        + "\"petitioner_count\":1,\"anonymous\":false,\"status\":\"received\"}}";
  }

  public static void main(String[] a) throws Exception {
    String libPath = a[0], work = a[1], build = a[2], source = a[3];
    // ABI refusal.
    try {
      Danvan.Library.load(libPath, 2);
      check(false, "ABI 2 accepted");
    } catch (DanvanException.AbiMismatchException e) {
      check(e.getMessage().contains("host ABI 2, plugin ABI 1"), "refusal reason: " + e.getMessage());
    }
    Danvan.Library lib = Danvan.Library.load(libPath);
    check(lib.abiMajor == 1 && lib.abiMinor >= 1, "abi " + lib.abiMajor + "." + lib.abiMinor);
    for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
      check(!line.contains(build + "/") && !line.contains(source + "/"), "mapped from the build/source tree: " + line);
      if (line.contains("libdanvan"))
        check(line.contains(Path.of(libPath).toRealPath().toString()), "libdanvan not the installed one: " + line);
    }
    // Bad configuration.
    try {
      lib.open("{\"storage\":{\"engine\":\"mysql\"},\"bogus\":1}", new Danvan.Callbacks());
      check(false, "bad config accepted");
    } catch (DanvanException.InvalidInputException e) {
      check(e.errors().stream().anyMatch(x -> x.path().equals("/bogus") && x.code().equals("schema.unknown_field")
                                              && !x.messageEn().isEmpty()), "bad config: " + e.errors());
    }
    AtomicInteger alerts = new AtomicInteger();
    Danvan.Callbacks cb = new Danvan.Callbacks().alert(s -> {
      alerts.incrementAndGet();
      throw new IllegalStateException("a host callback that throws");
    });
    Danvan.ConfigBuilder cfg = Danvan.config().instance("java-kit").sqlite(work + "/java.sqlite").synchronous(false);
    try (Danvan.Handle h = lib.open(cfg, cb)) {
      h.start();
      try {
        lib.open(cfg, new Danvan.Callbacks()).close();
        check(false, "second open accepted");
      } catch (DanvanException.BadStateException e) {
        check(e.hasCode("store.locked") && e.getMessage().contains("java-kit"), "second open: " + e.getMessage());
      }
      // Sample data: the lines as bytes (some deliberately invalid UTF-8), batches of 200.
      byte[] all = Files.readAllBytes(Path.of(work, "sample.jsonl"));
      List<byte[]> lines = new ArrayList<>();
      int start = 0;
      for (int i = 0; i < all.length; i++)
        if (all[i] == '\n') {
          if (i > start) lines.add(java.util.Arrays.copyOfRange(all, start, i));
          start = i + 1;
        }
      int accepted = 0, rejected = 0;
      for (int i = 0; i < lines.size(); i += 200) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (byte[] l : lines.subList(i, Math.min(lines.size(), i + 200))) {
          b.writeBytes(l);
          b.write('\n');
        }
        for (Danvan.SubmitResult r : h.submitBatch(b.toByteArray())) {
          if (r.outcome().equals("accepted")) accepted++;
          if (r.outcome().equals("rejected")) {
            rejected++;
            check(!r.errors().isEmpty() && !r.errors().get(0).code().isEmpty(), "rejected without code");
          }
        }
      }
      String manifest = Files.readString(Path.of(work, "sample.manifest.json"));
      check(manifest.contains("\"accepted\": " + accepted + ","), "accepted " + accepted);
      check(manifest.contains("\"rejected\": " + rejected + ","), "rejected " + rejected);
      // Rejected event: typed exception with field errors.
      try {
        h.submit("{\"kind\":\"petition\",\"source\":\"java-kit\",\"id\":\"X\",\"version\":1}");
        check(false, "incomplete event accepted");
      } catch (DanvanException.InvalidInputException e) {
        check(e.hasCode("schema.required") && e.result() != null && e.result().contains("rejected"),
              "rejected: " + e.getMessage());
      }
      // UTF-8: a title whose String.length() is not its byte count.
      String title = "Khiếu nại về học thêm — Trường THPT Lê Quý Đôn";
      check(title.length() != title.getBytes(StandardCharsets.UTF_8).length, "test title is ASCII");
      Danvan.SubmitResult ok = h.submit(petition("KN-J-1", title));
      check(ok.outcome().equals("accepted"), "petition: " + ok.json());
      Map<String, Object> got = h.query("{\"op\":\"record.get\",\"source\":\"java-kit\",\"kind\":\"petition\",\"id\":\"KN-J-1\"}");
      check(got.toString().contains(title), "title not round-tripped: " + got);
      // The batching submitter: 8 threads x 250 events, each caller gets its own result.
      AtomicInteger okCount = new AtomicInteger(), rejCount = new AtomicInteger();
      try (BatchingSubmitter bs = new BatchingSubmitter(h, 100, 5, 10000)) {
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
          final int tt = t;
          Thread th = new Thread(() -> {
            List<CompletableFuture<Danvan.SubmitResult>> fs = new ArrayList<>();
            for (int i = 0; i < 250; i++)
              fs.add(bs.submit(i == 7 ? "{\"kind\":\"petition\",\"id\":\"bad-" + tt + "\"}"
                                      : petition("B-" + tt + "-" + i, "Kiến nghị số " + i)));
            for (int i = 0; i < fs.size(); i++) {
              try {
                Danvan.SubmitResult r = fs.get(i).get();
                if (r.outcome().equals("accepted") && r.key().get("id").equals("B-" + tt + "-" + i)) okCount.incrementAndGet();
              } catch (ExecutionException e) {
                if (e.getCause() instanceof DanvanException.InvalidInputException && i == 7) rejCount.incrementAndGet();
              } catch (InterruptedException e) {
                return;
              }
            }
          });
          ts.add(th);
          th.start();
        }
        for (Thread th : ts) th.join();
      }
      check(okCount.get() == 8 * 249 && rejCount.get() == 8, "batching: ok " + okCount + " rejected " + rejCount);
      try {
        h.query("{\"op\":\"no.such\"}");
        check(false, "unknown op");
      } catch (DanvanException.NotFoundException e) {
        check(e.hasCode("op.unknown"), "unknown op: " + e.getMessage());
      }
    }
    // Close while other threads submit: each call succeeds or throws BadStateException.
    Danvan.Handle h2 = lib.open(Danvan.config().instance("java-close").sqlite(work + "/close.sqlite").synchronous(false),
                                new Danvan.Callbacks());
    AtomicInteger ok = new AtomicInteger(), closed = new AtomicInteger(), other = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      final int tt = t;
      Thread th = new Thread(() -> {
        for (int i = 0; i < 1_000_000; i++) {
          try {
            h2.submit(petition("C-" + tt + "-" + i, "Đơn " + i));
            ok.incrementAndGet();
          } catch (DanvanException.BadStateException e) {
            closed.incrementAndGet();
            return;
          } catch (Throwable e) {
            other.incrementAndGet();
            e.printStackTrace();
            return;
          }
        }
      });
      ts.add(th);
      th.start();
    }
    Thread.sleep(500);
    h2.close();
    for (Thread th : ts) th.join(60000);
    check(ok.get() > 0 && closed.get() == 4 && other.get() == 0,
          "close under load: ok " + ok + " closed " + closed + " other " + other);
    try (Danvan.Handle h3 = lib.open(Danvan.config().instance("java-close").sqlite(work + "/close.sqlite"), new Danvan.Callbacks())) {
      check(((Number) h3.query("{\"op\":\"stats\"}").get("records")).intValue() == ok.get(), "acknowledged events lost");
    }
    System.out.println("java kit: " + failures + " failed");
    System.exit(failures == 0 ? 0 : 1);
  }
}
