package danvan;

import com.sun.jna.Callback;
import com.sun.jna.CallbackReference;
import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * Java kit for libdanvan.so (JNA). Every string crosses the ABI as UTF-8 bytes with the byte
 * array's length (never String.length()). See docs/integration.md.
 *
 * <pre>
 * Danvan.Library lib = Danvan.Library.load("/usr/lib/x86_64-linux-gnu/libdanvan.so.1");
 * try (Danvan.Handle h = lib.open(Danvan.config().instance("mc-hp").sqlite("/var/lib/danvan/d.sqlite"))) {
 *   h.start();
 *   Danvan.SubmitResult r = h.submit(eventJson);   // InvalidInputException, RetryLaterException...
 * }
 * </pre>
 */
public final class Danvan {
  public static final int ABI_MAJOR = 1;
  /** sizeof(danvan_api) of danvan.h 1.1 on LP64; the plugin's table must be at least this big. */
  static final int API_SIZE = 112;
  static final int SERVICES_SIZE = 48;

  private Danvan() {}

  /** A typed configuration builder (schemas/config.schema.json). */
  public static ConfigBuilder config() { return new ConfigBuilder(); }

  public static final class ConfigBuilder {
    private String instance = "";
    private String sqlitePath;
    private String synchronous = "full";
    private String logLevel = "info";
    private final List<String> extra = new ArrayList<>();

    public ConfigBuilder instance(String name) { this.instance = name; return this; }
    public ConfigBuilder sqlite(String path) { this.sqlitePath = path; return this; }
    public ConfigBuilder synchronous(boolean full) { this.synchronous = full ? "full" : "normal"; return this; }
    public ConfigBuilder logLevel(String level) { this.logLevel = level; return this; }
    /** A raw top-level member, e.g. raw("portal", "{...}"). */
    public ConfigBuilder raw(String key, String json) { extra.add(Json.quote(key) + ":" + json); return this; }

    public String toJson() {
      StringBuilder b = new StringBuilder("{\"instance\":").append(Json.quote(instance));
      b.append(",\"storage\":{\"engine\":\"sqlite\"");
      if (sqlitePath != null) b.append(",\"path\":").append(Json.quote(sqlitePath));
      b.append(",\"synchronous\":").append(Json.quote(synchronous)).append("}");
      b.append(",\"log\":{\"level\":").append(Json.quote(logLevel)).append("}");
      for (String e : extra) b.append(",").append(e);
      return b.append("}").toString();
    }
  }

  /** The outcome of one event. */
  public record SubmitResult(String outcome, Map<String, Object> key, List<DanvanException.FieldError> errors,
                             String json) {
    @SuppressWarnings("unchecked")
    static SubmitResult of(Map<String, Object> m, String json) {
      List<DanvanException.FieldError> errs = new ArrayList<>();
      if (m.get("errors") instanceof List<?> l)
        for (Object o : l) {
          Map<String, Object> e = (Map<String, Object>) o;
          errs.add(new DanvanException.FieldError(String.valueOf(e.get("code")), String.valueOf(e.get("path")),
              String.valueOf(e.get("message")), String.valueOf(e.get("message_en"))));
        }
      Object k = m.get("key");
      return new SubmitResult(String.valueOf(m.get("outcome")),
          k instanceof Map ? (Map<String, Object>) k : Map.of(), Collections.unmodifiableList(errs), json);
    }
  }

  /** Host callbacks (all optional). Alerts are delivered on an executor, never on a plugin thread. */
  public static final class Callbacks {
    System.Logger logger = System.getLogger("danvan");
    Consumer<String> alert;
    java.util.function.Function<String, String> secret;
    public Callbacks logger(System.Logger l) { this.logger = l; return this; }
    public Callbacks alert(Consumer<String> a) { this.alert = a; return this; }
    /** name ("portal.password", ...) -> value, or null when unknown. */
    public Callbacks secret(java.util.function.Function<String, String> s) { this.secret = s; return this; }
  }

  // JNA callback interfaces (C signatures of danvan_host_services).
  public interface LogCb extends Callback { void invoke(Pointer user, int level, Pointer msg, long len); }
  public interface AlertCb extends Callback { void invoke(Pointer user, Pointer alert, long len); }
  public interface SecretCb extends Callback { long invoke(Pointer user, String name, Pointer buf, long len); }

  /** libdanvan.so loaded, ABI major and function-table size checked. */
  public static final class Library {
    final NativeLibrary lib;
    final Pointer api;
    final Function open, start, stop, close, submit, submitBatch, query, free;
    public final int abiMajor, abiMinor;
    public final String version;

    private Library(NativeLibrary lib, int hostMajor) {
      this.lib = lib;
      PointerByReference reason = new PointerByReference();
      Pointer a = lib.getFunction("danvan_get_api").invokePointer(new Object[] {hostMajor, reason});
      if (a == null) {
        String r = reason.getValue() == null ? "ABI mismatch" : utf8(reason.getValue(), -1);
        throw DanvanException.of(DanvanException.Status.ABI_MISMATCH, DanvanException.doc("abi.mismatch", r), null);
      }
      int size = a.getInt(0);
      if (size < API_SIZE)
        throw DanvanException.of(DanvanException.Status.ABI_MISMATCH,
            DanvanException.doc("abi.table_size", "function table " + size + " < " + API_SIZE + " bytes"), null);
      api = a;
      abiMajor = a.getInt(4);
      abiMinor = a.getInt(8);
      version = utf8(a.getPointer(24), -1);
      open = fn(40); start = fn(48); stop = fn(56); close = fn(64); submit = fn(72);
      submitBatch = fn(80); query = fn(88); free = fn(96);
    }

    private Function fn(int offset) { return Function.getFunction(api.getPointer(offset)); }

    public static Library load(String path) { return load(path, ABI_MAJOR); }

    /** hostMajor other than ABI_MAJOR is for testing the refusal. */
    public static Library load(String path, int hostMajor) {
      return new Library(NativeLibrary.getInstance(path), hostMajor);
    }

    /** The loaded library's file. */
    public String path() { return lib.getFile() == null ? lib.getName() : lib.getFile().getAbsolutePath(); }

    public Handle open(ConfigBuilder config) { return open(config.toJson(), new Callbacks()); }
    public Handle open(ConfigBuilder config, Callbacks cb) { return open(config.toJson(), cb); }
    public Handle open(String configJson, Callbacks cb) { return new Handle(this, configJson, cb); }

    String take(Pointer p, long len) {
      if (p == null) return null;
      try {
        return utf8(p, len);
      } finally {
        free.invokeVoid(new Object[] {p});
      }
    }
  }

  static String utf8(Pointer p, long len) {
    if (len < 0) {
      long n = 0;
      while (p.getByte(n) != 0) n++;
      len = n;
    }
    return new String(p.getByteArray(0, (int) len), StandardCharsets.UTF_8);
  }

  /**
   * One danvan handle. Thread-safe: any number of threads may submit/query at once. close()
   * waits for the calls under way (a write lock against their read locks); later calls throw
   * BadStateException. Callbacks stay referenced by the handle until close() returns.
   */
  public static final class Handle implements AutoCloseable {
    private final Library lib;
    private final ReentrantReadWriteLock guard = new ReentrantReadWriteLock();
    private Pointer handle;
    private volatile boolean closing;
    private final Memory services = new Memory(SERVICES_SIZE);
    private final LogCb logCb;
    private final AlertCb alertCb;
    private final SecretCb secretCb;
    private final ExecutorService alerts;
    private final java.util.concurrent.atomic.AtomicInteger callbackErrors = new java.util.concurrent.atomic.AtomicInteger();

    Handle(Library lib, String configJson, Callbacks cb) {
      this.lib = lib;
      services.clear();
      services.setInt(0, SERVICES_SIZE);
      final System.Logger logger = cb.logger;
      logCb = (u, level, msg, len) -> {
        try {
          System.Logger.Level l = switch (level) {
            case 0 -> System.Logger.Level.TRACE;
            case 1 -> System.Logger.Level.DEBUG;
            case 2 -> System.Logger.Level.INFO;
            case 3 -> System.Logger.Level.WARNING;
            default -> System.Logger.Level.ERROR;
          };
          if (logger.isLoggable(l)) logger.log(l, utf8(msg, len));
        } catch (Throwable t) {
          callbackErrors.incrementAndGet();
        }
      };
      services.setPointer(16, CallbackReference.getFunctionPointer(logCb));
      if (cb.alert != null) {
        alerts = Executors.newSingleThreadExecutor(r -> {
          Thread t = new Thread(r, "danvan-alerts");
          t.setDaemon(true);
          return t;
        });
        final Consumer<String> sink = cb.alert;
        alertCb = (u, a, len) -> {
          try {
            String text = utf8(a, len);
            alerts.execute(() -> {
              try { sink.accept(text); } catch (Throwable t) { callbackErrors.incrementAndGet(); }
            });
          } catch (Throwable t) {
            callbackErrors.incrementAndGet();
          }
        };
        services.setPointer(24, CallbackReference.getFunctionPointer(alertCb));
      } else {
        alerts = null;
        alertCb = null;
      }
      if (cb.secret != null) {
        final java.util.function.Function<String, String> src = cb.secret;
        secretCb = (u, name, buf, len) -> {
          try {
            String v = src.apply(name);
            if (v == null) return -1;
            byte[] b = v.getBytes(StandardCharsets.UTF_8);
            buf.write(0, b, 0, (int) Math.min(b.length, len));
            return b.length;
          } catch (Throwable t) {
            callbackErrors.incrementAndGet();
            return -1;
          }
        };
        services.setPointer(40, CallbackReference.getFunctionPointer(secretCb));
      } else {
        secretCb = null;
      }
      byte[] cfg = configJson.getBytes(StandardCharsets.UTF_8);
      PointerByReference out = new PointerByReference();
      PointerByReference err = new PointerByReference();
      int st = lib.open.invokeInt(new Object[] {cfg, (long) cfg.length, services, out, err});
      if (st != 0) {
        if (alerts != null) alerts.shutdown();
        throw DanvanException.of(st, lib.take(err.getValue(), -1), null);
      }
      handle = out.getValue();
    }

    /** Exceptions thrown by the host's callbacks (caught, never propagated into the plugin). */
    public int callbackErrors() { return callbackErrors.get(); }

    private Pointer enter() {
      if (closing) throw DanvanException.of(DanvanException.Status.BAD_STATE, DanvanException.doc("state.bad", "handle đã đóng"), null);
      guard.readLock().lock();
      if (handle == null) {
        guard.readLock().unlock();
        throw DanvanException.of(DanvanException.Status.BAD_STATE, DanvanException.doc("state.bad", "handle đã đóng"), null);
      }
      return handle;
    }

    public void start() {
      Pointer h = enter();
      try {
        PointerByReference err = new PointerByReference();
        int st = lib.start.invokeInt(new Object[] {h, err});
        if (st != 0) throw DanvanException.of(st, lib.take(err.getValue(), -1), null);
      } finally {
        guard.readLock().unlock();
      }
    }

    public void stop(int timeoutMs) {
      Pointer h = enter();
      try {
        PointerByReference err = new PointerByReference();
        int st = lib.stop.invokeInt(new Object[] {h, timeoutMs, err});
        if (st != 0) throw DanvanException.of(st, lib.take(err.getValue(), -1), null);
      } finally {
        guard.readLock().unlock();
      }
    }

    private String call(Function f, byte[] in) {
      Pointer h = enter();
      try {
        PointerByReference out = new PointerByReference();
        LongByReference len = new LongByReference();
        PointerByReference err = new PointerByReference();
        int st = f.invokeInt(new Object[] {h, in, (long) in.length, out, len, err});
        String result = lib.take(out.getValue(), len.getValue());
        if (st != 0) throw DanvanException.of(st, lib.take(err.getValue(), -1), result);
        lib.take(err.getValue(), -1);
        return result;
      } finally {
        guard.readLock().unlock();
      }
    }

    /** One event (JSON text). InvalidInputException (with field errors and result()) when rejected. */
    public SubmitResult submit(String eventJson) { return submit(eventJson.getBytes(StandardCharsets.UTF_8)); }

    public SubmitResult submit(byte[] eventUtf8) {
      String r = call(lib.submit, eventUtf8);
      return SubmitResult.of(Json.object(r), r);
    }

    /** JSON Lines (UTF-8 bytes); one result per non-empty line. */
    @SuppressWarnings("unchecked")
    public List<SubmitResult> submitBatch(byte[] jsonlUtf8) {
      String r = call(lib.submitBatch, jsonlUtf8);
      List<SubmitResult> out = new ArrayList<>();
      for (Object o : (List<Object>) Json.object(r).get("results"))
        out.add(SubmitResult.of((Map<String, Object>) o, null));
      return out;
    }

    /** {"op": ...} -> the response as a map. NotFoundException for an unknown op. */
    public Map<String, Object> query(String requestJson) {
      return Json.object(call(lib.query, requestJson.getBytes(StandardCharsets.UTF_8)));
    }

    /** Waits for the calls under way, then closes the handle. Idempotent. */
    @Override
    public void close() {
      closing = true;  // refuse new calls first so a stream of calls cannot starve close()
      guard.writeLock().lock();
      try {
        if (handle == null) return;
        lib.close.invokeVoid(new Object[] {handle});
        handle = null;
      } finally {
        guard.writeLock().unlock();
      }
      if (alerts != null) {
        alerts.shutdown();
        try { alerts.awaitTermination(5, TimeUnit.SECONDS); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
      }
    }
  }
}
