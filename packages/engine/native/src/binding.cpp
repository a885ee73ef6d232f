// N-API binding: converts JavaScript arguments to the C interface of ownlm.h and checks every size against
// the buffers it is given, so that no call from JavaScript can make a kernel read or write out of bounds.
// Typed arrays are passed zero-copy (napi_get_typedarray_info's data already includes the view's offset).
// Errors are thrown as JavaScript TypeError (wrong kind of argument) or RangeError (bad size or index).
#include <node_api.h>
#include <stdio.h>

#include "ownlm.h"

namespace {

constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1
constexpr size_t kMaxArgs = 20;

typedef unsigned __int128 u128;

/** Reads the arguments of one call; the first failure throws and makes every later read a no-op. */
class Args {
 public:
  Args(napi_env env, napi_callback_info info, size_t expected) : env_(env) {
    size_t argc = kMaxArgs;
    if (napi_get_cb_info(env, info, &argc, argv_, nullptr, nullptr) != napi_ok) {
      fail_type("could not read the arguments");
    } else if (argc < expected) {
      char msg[96];
      snprintf(msg, sizeof msg, "expected %zu arguments, got %zu", expected, argc);
      fail_type(msg);
    }
  }

  bool ok() const { return ok_; }

  float* f32(size_t i, const char* name, size_t* length) {
    return static_cast<float*>(typed(i, name, napi_float32_array, "a Float32Array", length));
  }
  int32_t* i32(size_t i, const char* name, size_t* length) {
    return static_cast<int32_t*>(typed(i, name, napi_int32_array, "an Int32Array", length));
  }

  /** An integer-valued number in [lo, 2^53). */
  int64_t integer(size_t i, const char* name, double lo = 0) {
    double x = number(i, name);
    if (ok_ && !(x >= lo && x <= kMaxSafe && x == static_cast<double>(static_cast<int64_t>(x)))) {
      char what[64];
      snprintf(what, sizeof what, "must be an integer from %.17g to 2^53 - 1", lo);
      fail_range(name, what);
    }
    return ok_ ? static_cast<int64_t>(x) : 0;
  }

  double number(size_t i, const char* name) {
    double x = 0;
    if (ok_ && napi_get_value_double(env_, argv_[i], &x) != napi_ok) fail_type(name, "must be a number");
    return x;
  }

  /** A string of fewer than size bytes. */
  void text(size_t i, const char* name, char* out, size_t size) {
    size_t length = 0;
    out[0] = 0;
    if (ok_ && (napi_get_value_string_utf8(env_, argv_[i], out, size, &length) != napi_ok || length + 1 >= size)) {
      fail_type(name, "must be a short string");
    }
  }

  bool boolean(size_t i, const char* name) {
    bool x = false;
    if (ok_ && napi_get_value_bool(env_, argv_[i], &x) != napi_ok) fail_type(name, "must be a boolean");
    return x;
  }

  /** Checks that a buffer of `length` elements holds `needed`. */
  void need(const char* name, size_t length, u128 needed) {
    if (ok_ && needed > length) {
      char msg[160];
      snprintf(msg, sizeof msg, "%s has %zu elements but the sizes given need %llu", name, length,
               static_cast<unsigned long long>(needed > ~0ull ? ~0ull : static_cast<unsigned long long>(needed)));
      fail_range(msg);
    }
  }

  void check(bool condition, const char* message) {
    if (ok_ && !condition) fail_range(message);
  }

  void fail_range(const char* name, const char* what = nullptr) {
    fail(false, name, what);
  }

 private:
  void* typed(size_t i, const char* name, napi_typedarray_type want, const char* what, size_t* length) {
    *length = 0;
    if (!ok_) return nullptr;
    bool is_typed = false;
    napi_typedarray_type type;
    void* data = nullptr;
    if (napi_is_typedarray(env_, argv_[i], &is_typed) != napi_ok || !is_typed ||
        napi_get_typedarray_info(env_, argv_[i], &type, length, &data, nullptr, nullptr) != napi_ok ||
        type != want) {
      char msg[96];
      snprintf(msg, sizeof msg, "must be %s", what);
      fail_type(name, msg);
      *length = 0;
      return nullptr;
    }
    return data;
  }

  void fail_type(const char* name, const char* what = nullptr) { fail(true, name, what); }

  void fail(bool type_error, const char* name, const char* what) {
    if (!ok_) return;
    ok_ = false;
    char msg[256];
    if (what) snprintf(msg, sizeof msg, "ownlm native: %s %s", name, what);
    else snprintf(msg, sizeof msg, "ownlm native: %s", name);
    if (type_error) napi_throw_type_error(env_, nullptr, msg);
    else napi_throw_range_error(env_, nullptr, msg);
  }

  napi_env env_;
  napi_value argv_[kMaxArgs] = {};
  bool ok_ = true;
};

/** Elements spanned by `rows` rows of `cols` values `ld` apart, repeated `batch` times `stride` apart. */
u128 span(int64_t batch, int64_t stride, int64_t rows, int64_t ld, int64_t cols) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return static_cast<u128>(batch - 1) * static_cast<u128>(stride) +
         static_cast<u128>(rows - 1) * static_cast<u128>(ld) + static_cast<u128>(cols);
}

u128 product(int64_t a, int64_t b, int64_t c = 1, int64_t d = 1) {
  return static_cast<u128>(a) * static_cast<u128>(b) * static_cast<u128>(c) * static_cast<u128>(d);
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value Isa(napi_env env, napi_callback_info) { return string(env, ownlm_isa_name()); }
napi_value BestIsa(napi_env env, napi_callback_info) { return string(env, ownlm_isa_best()); }

napi_value SelectIsa(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  char name[32];
  a.text(0, "isa", name, sizeof name);
  if (!a.ok()) return nullptr;
  napi_value result;
  napi_get_boolean(env, ownlm_isa_select(name) == 0, &result);
  return result;
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, ownlm_threads_get(), &v);
  return v;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  int64_t count = a.integer(0, "threads", 1);
  a.check(count <= 1024, "threads must be at most 1024");
  if (!a.ok()) return nullptr;
  ownlm_threads_set(static_cast<int>(count));
  return undefined(env);
}

napi_value Gemm(napi_env env, napi_callback_info info) {
  Args a(env, info, 17);
  bool ta = a.boolean(0, "transA"), tb = a.boolean(1, "transB");
  int64_t m = a.integer(2, "m"), n = a.integer(3, "n"), k = a.integer(4, "k");
  double alpha = a.number(5, "alpha");
  size_t la, lb, lc;
  const float* pa = a.f32(6, "a", &la);
  int64_t lda = a.integer(7, "lda");
  const float* pb = a.f32(8, "b", &lb);
  int64_t ldb = a.integer(9, "ldb");
  double beta = a.number(10, "beta");
  float* pc = a.f32(11, "c", &lc);
  int64_t ldc = a.integer(12, "ldc");
  int64_t batch = a.integer(13, "batch");
  int64_t sa = a.integer(14, "strideA"), sb = a.integer(15, "strideB"), sc = a.integer(16, "strideC");
  // Stored shapes: A is m x k (k x m transposed), B is k x n (n x k transposed), C is m x n.
  int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  a.check(lda >= a_cols, "lda is smaller than a row of A");
  a.check(ldb >= b_cols, "ldb is smaller than a row of B");
  a.check(ldc >= n, "ldc is smaller than n");
  // Products of one batch run in parallel, so their C matrices must not overlap.
  a.check(batch <= 1 || static_cast<u128>(sc) >= span(1, 0, m, ldc, n), "strideC makes C matrices overlap");
  if (m > 0 && n > 0) {
    a.need("a", la, span(batch, sa, a_rows, lda, a_cols));
    a.need("b", lb, span(batch, sb, b_rows, ldb, b_cols));
  }
  a.need("c", lc, span(batch, sc, m, ldc, n));
  if (!a.ok()) return nullptr;
  ownlm_gemm_f32(ta, tb, m, n, k, static_cast<float>(alpha), pa, lda, pb, ldb, static_cast<float>(beta), pc, ldc,
                 batch, sa, sb, sc);
  return undefined(env);
}

napi_value RmsnormForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  size_t lx, lw, lo, lr;
  const float* x = a.f32(0, "x", &lx);
  const float* w = a.f32(1, "weight", &lw);
  float* out = a.f32(2, "out", &lo);
  float* rstd = a.f32(3, "rstd", &lr);
  int64_t rows = a.integer(4, "rows"), dim = a.integer(5, "dim");
  double eps = a.number(6, "eps");
  a.need("x", lx, product(rows, dim));
  a.need("out", lo, product(rows, dim));
  a.need("weight", lw, rows > 0 ? product(dim, 1) : 0);
  a.need("rstd", lr, product(rows, 1));
  if (!a.ok()) return nullptr;
  ownlm_rmsnorm_forward(x, w, out, rstd, rows, dim, eps);
  return undefined(env);
}

napi_value RmsnormBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  size_t ld, lx, lw, lr, ldx, ldw;
  const float* dout = a.f32(0, "dout", &ld);
  const float* x = a.f32(1, "x", &lx);
  const float* w = a.f32(2, "weight", &lw);
  const float* rstd = a.f32(3, "rstd", &lr);
  float* dx = a.f32(4, "dx", &ldx);
  float* dw = a.f32(5, "dweight", &ldw);
  int64_t rows = a.integer(6, "rows"), dim = a.integer(7, "dim");
  a.need("dout", ld, product(rows, dim));
  a.need("x", lx, product(rows, dim));
  a.need("dx", ldx, product(rows, dim));
  a.need("weight", lw, rows > 0 ? product(dim, 1) : 0);
  a.need("dweight", ldw, rows > 0 ? product(dim, 1) : 0);
  a.need("rstd", lr, product(rows, 1));
  if (!a.ok()) return nullptr;
  ownlm_rmsnorm_backward(dout, x, w, rstd, dx, dw, rows, dim);
  return undefined(env);
}

napi_value Rope(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  size_t lx, lo, lc, ls;
  const float* x = a.f32(0, "x", &lx);
  float* out = a.f32(1, "out", &lo);
  const float* cs = a.f32(2, "cos", &lc);
  const float* sn = a.f32(3, "sin", &ls);
  int64_t batch = a.integer(4, "batch"), seq = a.integer(5, "seq"), heads = a.integer(6, "heads");
  int64_t head_dim = a.integer(7, "headDim"), offset = a.integer(8, "positionOffset");
  bool inverse = a.boolean(9, "inverse");
  a.check(head_dim % 2 == 0, "headDim must be even");
  u128 total = product(batch, seq, heads, head_dim);
  a.need("x", lx, total);
  a.need("out", lo, total);
  u128 table = total > 0 ? static_cast<u128>(offset + seq) * static_cast<u128>(head_dim / 2) : 0;
  a.need("cos", lc, table);
  a.need("sin", ls, table);
  if (!a.ok()) return nullptr;
  ownlm_rope_apply(x, out, cs, sn, batch, seq, heads, head_dim, offset, inverse);
  return undefined(env);
}

/** Reads the attention shape from arguments first..first+7 and checks q/k/v-shaped buffers against it. */
bool attention_shape(Args& a, size_t first, ownlm_attention_shape* s) {
  s->batch = a.integer(first, "batch");
  s->seq_q = a.integer(first + 1, "seqQ");
  s->seq_k = a.integer(first + 2, "seqK");
  s->heads_q = a.integer(first + 3, "headsQ", 1);
  s->heads_kv = a.integer(first + 4, "headsKV", 1);
  s->head_dim = a.integer(first + 5, "headDim", 1);
  s->scale = static_cast<float>(a.number(first + 6, "scale"));
  s->query_offset = a.integer(first + 7, "queryOffset", -kMaxSafe);
  a.check(s->heads_kv > 0 && s->heads_q % s->heads_kv == 0, "headsQ must be a multiple of headsKV");
  // Keeps per-thread tile buffers (sized by seqQ x headDim) and index arithmetic far from overflow.
  a.check(s->seq_q <= (1 << 24) && s->seq_k <= (1 << 24) && s->head_dim <= 4096, "attention sizes too large");
  return a.ok();
}

napi_value AttentionForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 13);
  size_t lq, lk, lv, lo, ll;
  const float* q = a.f32(0, "q", &lq);
  const float* k = a.f32(1, "k", &lk);
  const float* v = a.f32(2, "v", &lv);
  float* out = a.f32(3, "out", &lo);
  float* lse = a.f32(4, "lse", &ll);
  ownlm_attention_shape s;
  if (!attention_shape(a, 5, &s)) return nullptr;
  a.need("q", lq, product(s.batch, s.seq_q, s.heads_q, s.head_dim));
  a.need("out", lo, product(s.batch, s.seq_q, s.heads_q, s.head_dim));
  a.need("k", lk, product(s.batch, s.seq_k, s.heads_kv, s.head_dim));
  a.need("v", lv, product(s.batch, s.seq_k, s.heads_kv, s.head_dim));
  a.need("lse", ll, product(s.batch, s.heads_q, s.seq_q));
  if (!a.ok()) return nullptr;
  ownlm_attention_forward(q, k, v, out, lse, &s);
  return undefined(env);
}

napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 17);
  size_t ldo, lq, lk, lv, lo, ll, ldq, ldk, ldv;
  const float* dout = a.f32(0, "dout", &ldo);
  const float* q = a.f32(1, "q", &lq);
  const float* k = a.f32(2, "k", &lk);
  const float* v = a.f32(3, "v", &lv);
  const float* out = a.f32(4, "out", &lo);
  const float* lse = a.f32(5, "lse", &ll);
  float* dq = a.f32(6, "dq", &ldq);
  float* dk = a.f32(7, "dk", &ldk);
  float* dv = a.f32(8, "dv", &ldv);
  ownlm_attention_shape s;
  if (!attention_shape(a, 9, &s)) return nullptr;
  u128 qn = product(s.batch, s.seq_q, s.heads_q, s.head_dim);
  u128 kn = product(s.batch, s.seq_k, s.heads_kv, s.head_dim);
  a.need("dout", ldo, qn);
  a.need("q", lq, qn);
  a.need("out", lo, qn);
  a.need("dq", ldq, qn);
  a.need("k", lk, kn);
  a.need("v", lv, kn);
  a.need("dk", ldk, kn);
  a.need("dv", ldv, kn);
  a.need("lse", ll, product(s.batch, s.heads_q, s.seq_q));
  if (!a.ok()) return nullptr;
  ownlm_attention_backward(dout, q, k, v, out, lse, dq, dk, dv, &s);
  return undefined(env);
}

napi_value SwigluForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  size_t lg, lu, lo;
  const float* g = a.f32(0, "gate", &lg);
  const float* u = a.f32(1, "up", &lu);
  float* out = a.f32(2, "out", &lo);
  int64_t n = a.integer(3, "n");
  a.need("gate", lg, product(n, 1));
  a.need("up", lu, product(n, 1));
  a.need("out", lo, product(n, 1));
  if (!a.ok()) return nullptr;
  ownlm_swiglu_forward(g, u, out, n);
  return undefined(env);
}

napi_value SwigluBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 6);
  size_t ld, lg, lu, ldg, ldu;
  const float* dout = a.f32(0, "dout", &ld);
  const float* g = a.f32(1, "gate", &lg);
  const float* u = a.f32(2, "up", &lu);
  float* dg = a.f32(3, "dgate", &ldg);
  float* du = a.f32(4, "dup", &ldu);
  int64_t n = a.integer(5, "n");
  a.need("dout", ld, product(n, 1));
  a.need("gate", lg, product(n, 1));
  a.need("up", lu, product(n, 1));
  a.need("dgate", ldg, product(n, 1));
  a.need("dup", ldu, product(n, 1));
  if (!a.ok()) return nullptr;
  ownlm_swiglu_backward(dout, g, u, dg, du, n);
  return undefined(env);
}

/** Checks that every target indexes the vocabulary or is the ignore index. */
void check_targets(Args& a, const int32_t* targets, int64_t rows, int64_t vocab, int64_t ignore) {
  if (!a.ok()) return;
  for (int64_t r = 0; r < rows; r++) {
    int32_t t = targets[r];
    if (t != ignore && (t < 0 || t >= vocab)) {
      char msg[128];
      snprintf(msg, sizeof msg, "targets[%lld] = %d is outside [0, %lld) and not the ignore index",
               static_cast<long long>(r), t, static_cast<long long>(vocab));
      a.fail_range(msg);
      return;
    }
  }
}

napi_value CrossEntropyForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  size_t lg, lt, ll, le;
  const float* logits = a.f32(0, "logits", &lg);
  const int32_t* targets = a.i32(1, "targets", &lt);
  float* losses = a.f32(2, "losses", &ll);
  float* lse = a.f32(3, "lse", &le);
  int64_t rows = a.integer(4, "rows"), vocab = a.integer(5, "vocab");
  int64_t ignore = a.integer(6, "ignoreIndex", -2147483648.0);
  a.check(ignore <= 2147483647, "ignoreIndex must fit in 32 bits");
  a.check(rows == 0 || vocab > 0, "vocab must be positive");
  a.need("logits", lg, product(rows, vocab));
  a.need("targets", lt, product(rows, 1));
  a.need("losses", ll, product(rows, 1));
  a.need("lse", le, product(rows, 1));
  check_targets(a, targets, rows, vocab, ignore);
  if (!a.ok()) return nullptr;
  ownlm_cross_entropy_forward(logits, targets, losses, lse, rows, vocab, static_cast<int32_t>(ignore));
  return undefined(env);
}

napi_value CrossEntropyBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  size_t lg, lt, le, ld;
  const float* logits = a.f32(0, "logits", &lg);
  const int32_t* targets = a.i32(1, "targets", &lt);
  const float* lse = a.f32(2, "lse", &le);
  float* dlogits = a.f32(3, "dlogits", &ld);
  int64_t rows = a.integer(4, "rows"), vocab = a.integer(5, "vocab");
  int64_t ignore = a.integer(6, "ignoreIndex", -2147483648.0);
  double scale = a.number(7, "scale");
  a.check(ignore <= 2147483647, "ignoreIndex must fit in 32 bits");
  a.check(rows == 0 || vocab > 0, "vocab must be positive");
  a.need("logits", lg, product(rows, vocab));
  a.need("dlogits", ld, product(rows, vocab));
  a.need("targets", lt, product(rows, 1));
  a.need("lse", le, product(rows, 1));
  check_targets(a, targets, rows, vocab, ignore);
  if (!a.ok()) return nullptr;
  ownlm_cross_entropy_backward(logits, targets, lse, dlogits, rows, vocab, static_cast<int32_t>(ignore),
                               static_cast<float>(scale));
  return undefined(env);
}

/** Checks that every id indexes a row of a table with `table_rows` rows. */
void check_ids(Args& a, const int32_t* ids, int64_t n, u128 table_rows) {
  if (!a.ok()) return;
  for (int64_t i = 0; i < n; i++) {
    if (ids[i] < 0 || static_cast<u128>(ids[i]) >= table_rows) {
      char msg[128];
      snprintf(msg, sizeof msg, "ids[%lld] = %d is outside the table's %llu rows", static_cast<long long>(i),
               ids[i], static_cast<unsigned long long>(table_rows));
      a.fail_range(msg);
      return;
    }
  }
}

napi_value EmbeddingForward(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  size_t li, lt, lo;
  const int32_t* ids = a.i32(0, "ids", &li);
  const float* table = a.f32(1, "table", &lt);
  float* out = a.f32(2, "out", &lo);
  int64_t n = a.integer(3, "n"), dim = a.integer(4, "dim");
  a.need("ids", li, product(n, 1));
  a.need("out", lo, product(n, dim));
  if (dim > 0) check_ids(a, ids, n, lt / static_cast<size_t>(dim));
  if (!a.ok()) return nullptr;
  ownlm_embedding_forward(ids, table, out, n, dim);
  return undefined(env);
}

napi_value EmbeddingBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  size_t li, ld, lt;
  const int32_t* ids = a.i32(0, "ids", &li);
  const float* dout = a.f32(1, "dout", &ld);
  float* dtable = a.f32(2, "dtable", &lt);
  int64_t n = a.integer(3, "n"), dim = a.integer(4, "dim");
  a.need("ids", li, product(n, 1));
  a.need("dout", ld, product(n, dim));
  if (dim > 0) check_ids(a, ids, n, lt / static_cast<size_t>(dim));
  if (!a.ok()) return nullptr;
  ownlm_embedding_backward(ids, dout, dtable, n, dim);
  return undefined(env);
}

napi_value AdamwStep(napi_env env, napi_callback_info info) {
  Args a(env, info, 12);
  size_t lp, lg, lm, lv;
  float* p = a.f32(0, "param", &lp);
  const float* g = a.f32(1, "grad", &lg);
  float* m = a.f32(2, "m", &lm);
  float* v = a.f32(3, "v", &lv);
  int64_t n = a.integer(4, "n");
  double h[7];
  const char* names[7] = {"lr", "beta1", "beta2", "eps", "weightDecay", "bc1", "bc2"};
  for (int i = 0; i < 7; i++) h[i] = a.number(5 + i, names[i]);
  a.need("param", lp, product(n, 1));
  a.need("grad", lg, product(n, 1));
  a.need("m", lm, product(n, 1));
  a.need("v", lv, product(n, 1));
  if (!a.ok()) return nullptr;
  ownlm_adamw_step(p, g, m, v, n, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
  return undefined(env);
}

template <void (*F)(const float*, const float*, float*, int64_t)>
napi_value Binary(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  size_t la, lb, lo;
  const float* x = a.f32(0, "a", &la);
  const float* y = a.f32(1, "b", &lb);
  float* out = a.f32(2, "out", &lo);
  int64_t n = a.integer(3, "n");
  a.need("a", la, product(n, 1));
  a.need("b", lb, product(n, 1));
  a.need("out", lo, product(n, 1));
  if (!a.ok()) return nullptr;
  F(x, y, out, n);
  return undefined(env);
}

napi_value Axpy(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  size_t lx, ly;
  double alpha = a.number(0, "alpha");
  const float* x = a.f32(1, "x", &lx);
  float* y = a.f32(2, "y", &ly);
  int64_t n = a.integer(3, "n");
  a.need("x", lx, product(n, 1));
  a.need("y", ly, product(n, 1));
  if (!a.ok()) return nullptr;
  ownlm_vec_axpy(static_cast<float>(alpha), x, y, n);
  return undefined(env);
}

napi_value Scale(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  size_t lx;
  float* x = a.f32(0, "x", &lx);
  double alpha = a.number(1, "alpha");
  int64_t n = a.integer(2, "n");
  a.need("x", lx, product(n, 1));
  if (!a.ok()) return nullptr;
  ownlm_vec_scale(x, static_cast<float>(alpha), n);
  return undefined(env);
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, 2);
  size_t lx;
  const float* x = a.f32(0, "x", &lx);
  int64_t n = a.integer(1, "n");
  a.need("x", lx, product(n, 1));
  if (!a.ok()) return nullptr;
  napi_value v;
  napi_create_double(env, ownlm_vec_sum_squares(x, n), &v);
  return v;
}

napi_value Init(napi_env env, napi_value exports) {
  ownlm_init();
  const napi_property_descriptor props[] = {
      {"isa", nullptr, Isa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"bestIsa", nullptr, BestIsa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"selectIsa", nullptr, SelectIsa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rmsnormForward", nullptr, RmsnormForward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rmsnormBackward", nullptr, RmsnormBackward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rope", nullptr, Rope, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"attentionForward", nullptr, AttentionForward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"attentionBackward", nullptr, AttentionBackward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"swigluForward", nullptr, SwigluForward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"swigluBackward", nullptr, SwigluBackward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"crossEntropyForward", nullptr, CrossEntropyForward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"crossEntropyBackward", nullptr, CrossEntropyBackward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"embeddingForward", nullptr, EmbeddingForward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"embeddingBackward", nullptr, EmbeddingBackward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"adamwStep", nullptr, AdamwStep, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"add", nullptr, Binary<ownlm_vec_add>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"mul", nullptr, Binary<ownlm_vec_mul>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"axpy", nullptr, Axpy, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"scale", nullptr, Scale, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sumSquares", nullptr, SumSquares, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
