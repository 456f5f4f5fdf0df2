package danvan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/** A failed plugin call: the status, the field errors and the raw error document. */
public class DanvanException extends RuntimeException {
  /** One error of the ABI's error document (danvan.h "Errors"). */
  public record FieldError(String code, String path, String message, String messageEn) {}

  private final int status;
  private final String document;
  private final List<FieldError> errors;
  private final String result;

  public DanvanException(int status, String document, String result) {
    super(Status.name(status) + ": " + describe(document));
    this.status = status;
    this.document = document;
    this.errors = parse(document);
    this.result = result;
  }

  public int status() { return status; }
  public String document() { return document; }
  public List<FieldError> errors() { return errors; }
  /** For a rejected submit: the submit result JSON (null otherwise). */
  public String result() { return result; }
  public boolean hasCode(String code) { return errors.stream().anyMatch(e -> e.code().equals(code)); }

  @SuppressWarnings("unchecked")
  static List<FieldError> parse(String document) {
    List<FieldError> out = new ArrayList<>();
    try {
      Object errs = Json.object(document).get("errors");
      if (errs instanceof List<?> l)
        for (Object o : l) {
          Map<String, Object> e = (Map<String, Object>) o;
          out.add(new FieldError(str(e.get("code")), str(e.get("path")), str(e.get("message")),
                                 str(e.get("message_en"))));
        }
    } catch (RuntimeException ignored) {
      out.add(new FieldError("", "", document, document));
    }
    return Collections.unmodifiableList(out);
  }

  private static String str(Object o) { return o == null ? "" : o.toString(); }

  private static String describe(String document) {
    StringBuilder b = new StringBuilder();
    for (FieldError e : parse(document))
      b.append(b.length() == 0 ? "" : "; ").append(e.path().isEmpty() ? "-" : e.path()).append(" [")
          .append(e.code()).append("] ").append(e.message());
    return b.toString();
  }

  static DanvanException of(int status, String document, String result) {
    return switch (status) {
      case Status.RETRY_LATER -> new RetryLaterException(status, document, result);
      case Status.INVALID_INPUT -> new InvalidInputException(status, document, result);
      case Status.NOT_FOUND -> new NotFoundException(status, document, result);
      case Status.CONFLICT -> new ConflictException(status, document, result);
      case Status.IO_ERROR -> new StorageException(status, document, result);
      case Status.ABI_MISMATCH -> new AbiMismatchException(status, document, result);
      case Status.BAD_STATE -> new BadStateException(status, document, result);
      default -> new DanvanException(status, document, result);
    };
  }

  static String doc(String code, String message) {
    return "{\"errors\":[{\"code\":" + Json.quote(code) + ",\"message\":" + Json.quote(message)
        + ",\"message_en\":" + Json.quote(message) + ",\"path\":\"\"}],\"status\":\"error\"}";
  }

  public static final class Status {
    public static final int OK = 0, RETRY_LATER = 1, INVALID_INPUT = 2, NOT_FOUND = 3, CONFLICT = 4,
        IO_ERROR = 5, INTERNAL = 6, ABI_MISMATCH = 7, BAD_STATE = 8;
    static String name(int s) {
      String[] n = {"ok", "retry_later", "invalid_input", "not_found", "conflict", "io_error", "internal",
                    "abi_mismatch", "bad_state"};
      return s >= 0 && s < n.length ? n[s] : "status " + s;
    }
    private Status() {}
  }

  public static class RetryLaterException extends DanvanException {
    RetryLaterException(int s, String d, String r) { super(s, d, r); }
  }
  public static class InvalidInputException extends DanvanException {
    InvalidInputException(int s, String d, String r) { super(s, d, r); }
  }
  public static class NotFoundException extends DanvanException {
    NotFoundException(int s, String d, String r) { super(s, d, r); }
  }
  public static class ConflictException extends DanvanException {
    ConflictException(int s, String d, String r) { super(s, d, r); }
  }
  public static class StorageException extends DanvanException {
    StorageException(int s, String d, String r) { super(s, d, r); }
  }
  public static class AbiMismatchException extends DanvanException {
    AbiMismatchException(int s, String d, String r) { super(s, d, r); }
  }
  public static class BadStateException extends DanvanException {
    BadStateException(int s, String d, String r) { super(s, d, r); }
  }
}
