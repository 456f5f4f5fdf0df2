package danvan;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Groups single events from many threads into submit_batch calls (one transaction, one fsync
 * per batch) and gives each caller its own result: submit() returns a future completed with the
 * event's SubmitResult, or exceptionally with InvalidInputException (the event was rejected; its
 * field errors attached) or with the batch's exception (RetryLaterException, BadStateException...).
 * The queue is bounded: when it is full, submit() fails at once with RetryLaterException.
 * close() flushes what is queued and stops the sender thread; it does not close the Handle.
 */
public final class BatchingSubmitter implements AutoCloseable {
  private record Item(byte[] event, CompletableFuture<Danvan.SubmitResult> result) {}

  private final Danvan.Handle handle;
  private final int maxBatch;
  private final long lingerMs;
  private final BlockingQueue<Item> queue;
  private final Thread sender;
  private volatile boolean closing;

  public BatchingSubmitter(Danvan.Handle handle, int maxBatch, long lingerMs, int queueCapacity) {
    this.handle = handle;
    this.maxBatch = maxBatch;
    this.lingerMs = lingerMs;
    this.queue = new ArrayBlockingQueue<>(queueCapacity);
    this.sender = new Thread(this::run, "danvan-batcher");
    this.sender.setDaemon(true);
    this.sender.start();
  }

  public CompletableFuture<Danvan.SubmitResult> submit(String eventJson) {
    CompletableFuture<Danvan.SubmitResult> f = new CompletableFuture<>();
    byte[] b = eventJson.getBytes(StandardCharsets.UTF_8);
    for (byte x : b)
      if (x == '\n' || x == '\r') {  // one event per line: JSON never needs a raw newline
        b = eventJson.replace('\n', ' ').replace('\r', ' ').getBytes(StandardCharsets.UTF_8);
        break;
      }
    if (closing || !queue.offer(new Item(b, f)))
      f.completeExceptionally(DanvanException.of(closing ? DanvanException.Status.BAD_STATE
                                                         : DanvanException.Status.RETRY_LATER,
          DanvanException.doc(closing ? "state.bad" : "retry_later",
                              closing ? "batching submitter closed" : "queue full"), null));
    return f;
  }

  private void run() {
    List<Item> batch = new ArrayList<>(maxBatch);
    while (!closing || !queue.isEmpty()) {
      try {
        Item first = queue.poll(50, TimeUnit.MILLISECONDS);
        if (first == null) continue;
        batch.add(first);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(lingerMs);
        while (batch.size() < maxBatch) {
          long left = deadline - System.nanoTime();
          Item next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
          if (next == null) break;
          batch.add(next);
        }
        send(batch);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        closing = true;
      } catch (Throwable t) {
        for (Item i : batch) i.result.completeExceptionally(t);
      } finally {
        batch.clear();
      }
    }
  }

  private void send(List<Item> batch) {
    ByteArrayOutputStream jsonl = new ByteArrayOutputStream();
    for (Item i : batch) {
      jsonl.writeBytes(i.event);
      jsonl.write('\n');
    }
    List<Danvan.SubmitResult> results;
    try {
      results = handle.submitBatch(jsonl.toByteArray());
    } catch (DanvanException e) {
      for (Item i : batch) i.result.completeExceptionally(e);
      return;
    }
    for (int k = 0; k < batch.size(); k++) {
      Item i = batch.get(k);
      if (k >= results.size()) {
        i.result.completeExceptionally(DanvanException.of(DanvanException.Status.INTERNAL,
            DanvanException.doc("internal", "missing result"), null));
        continue;
      }
      Danvan.SubmitResult r = results.get(k);
      if ("rejected".equals(r.outcome()))
        i.result.completeExceptionally(DanvanException.of(DanvanException.Status.INVALID_INPUT,
            "{\"errors\":" + errorsJson(r) + ",\"status\":\"invalid_input\"}", null));
      else
        i.result.complete(r);
    }
  }

  private static String errorsJson(Danvan.SubmitResult r) {
    StringBuilder b = new StringBuilder("[");
    for (DanvanException.FieldError e : r.errors())
      b.append(b.length() > 1 ? "," : "").append("{\"code\":").append(Json.quote(e.code()))
          .append(",\"path\":").append(Json.quote(e.path())).append(",\"message\":")
          .append(Json.quote(e.message())).append(",\"message_en\":").append(Json.quote(e.messageEn()))
          .append("}");
    return b.append("]").toString();
  }

  /** Sends what is queued, then stops the sender thread (bounded by timeoutMs). */
  @Override
  public void close() {
    closing = true;
    try {
      sender.join(10000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
