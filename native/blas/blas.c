// fisherflow's native BLAS bridge (Node-API, plain C).
//
// It links against nothing at build time: a BLAS library with the CBLAS interface (OpenBLAS,
// BLIS, MKL, Apple Accelerate) is dlopen()ed at run time, so the addon builds wherever node-gyp
// and a C compiler do, and fisherflow falls back to wasm when no library is found.
//
// Matrices live in the wasm backend's heap: JavaScript passes the heap's ArrayBuffer and byte
// offsets, and every access is bounds-checked here against the buffer's length before BLAS runs.
#define NAPI_VERSION 8
#include <node_api.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <pthread.h>
#include <math.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
#define SGEMM_SMALL_MNK 8388608.0  // 2^23: products below run on one thread (see Sgemm)
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_config_fn)(void);

static void *lib = NULL;
static sgemm_fn sgemm = NULL;
static set_threads_fn set_threads = NULL;
static get_threads_fn get_threads = NULL;
static char lib_name[512] = "";
static char lib_config[512] = "";
static int sqacc_threads = 0;  // threads of squaredGradAccum; 0: the BLAS library's count
static int have_avx2 = -1;

// Which build of the squared-gradient loops runs: AVX2+FMA where the CPU has them, else baseline.
static void detect_cpu(void) {
  if (have_avx2 >= 0) return;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // Tests run the baseline build of the loops too (FISHERFLOW_NATIVE_BASELINE=1).
  if (getenv("FISHERFLOW_NATIVE_BASELINE")) have_avx2 = 0;
#else
  have_avx2 = 0;
#endif
}

// "avx2", "x86-baseline" (slow: generic vectors without AVX), or "generic" (other CPUs).
static const char *squares_build(void) {
  detect_cpu();
#if defined(__x86_64__) || defined(__i386__)
  return have_avx2 ? "avx2" : "x86-baseline";
#else
  return "generic";
#endif
}

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "fisherflow-blas: Node-API call failed: " #call); return NULL; } } while (0)

static napi_value throw_msg(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

// The call's arguments when there are exactly n (argv holds n); otherwise throws "WHAT: expected n arguments".
static int exact_args(napi_env env, napi_callback_info info, napi_value *argv, size_t n, const char *what) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == n) return 1;
  char msg[128];
  snprintf(msg, sizeof msg, "%s: expected %zu arguments", what, n);
  napi_throw_error(env, NULL, msg);
  return 0;
}

// The wasm heap argument (an ArrayBuffer): its memory and length; otherwise throws.
static int heap_arg(napi_env env, napi_value v, char **data, size_t *len, const char *what) {
  void *d = NULL;
  if (napi_get_arraybuffer_info(env, v, &d, len) == napi_ok) { *data = (char *)d; return 1; }
  char msg[128];
  snprintf(msg, sizeof msg, "%s: heap must be an ArrayBuffer", what);
  napi_throw_error(env, NULL, msg);
  return 0;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

static int get_bool(napi_env env, napi_value v, int *out) {
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) return 0;
  *out = b ? 1 : 0;
  return 1;
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

// load(paths: string[]) -> { library, config, threads } | null
// Tries each path with dlopen; the first that exports cblas_sgemm is kept for the process.
static napi_value Load(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!lib) {
    uint32_t n = 0;
    if (argc < 1 || napi_get_array_length(env, argv[0], &n) != napi_ok) return throw_msg(env, "load: expected an array of library paths");
    for (uint32_t i = 0; i < n && !lib; i++) {
      napi_value el;
      char path[512];
      size_t len = 0;
      CHECK(napi_get_element(env, argv[0], i, &el));
      if (napi_get_value_string_utf8(env, el, path, sizeof path, &len) != napi_ok) continue;
      void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
      if (!h) continue;
      sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
      if (!f) { dlclose(h); continue; }
      lib = h;
      sgemm = f;
      snprintf(lib_name, sizeof lib_name, "%s", path);
      set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
      get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
      if (!set_threads) set_threads = (set_threads_fn)dlsym(h, "bli_thread_set_num_threads");
      get_config_fn cfg = (get_config_fn)dlsym(h, "openblas_get_config");
      if (cfg) snprintf(lib_config, sizeof lib_config, "%s", cfg());
    }
  }
  if (!lib) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  napi_value out;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_set_named_property(env, out, "library", make_string(env, lib_name)));
  CHECK(napi_set_named_property(env, out, "config", make_string(env, lib_config)));
  CHECK(napi_set_named_property(env, out, "squares", make_string(env, squares_build())));
  napi_value th;
  CHECK(napi_create_int32(env, get_threads ? get_threads() : 0, &th));
  CHECK(napi_set_named_property(env, out, "threads", th));
  return out;
}

// setThreads(n): OpenBLAS/BLIS thread count (a no-op for libraries without the call).
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_i64(env, argv[0], &n) || n < 1) return throw_msg(env, "setThreads: expected a positive integer");
  if (set_threads) set_threads((int)n);
  sqacc_threads = (int)n;
  napi_value r;
  napi_get_boolean(env, set_threads != NULL, &r);
  return r;
}

static int in_bounds(size_t buf_len, int64_t byte_off, int64_t elems) {
  if (byte_off < 0 || elems < 0 || (byte_off & 3)) return 0;
  return (uint64_t)byte_off + (uint64_t)elems * 4 <= buf_len;
}

// sgemm(heap, transA, transB, M, N, K, aOff, bOff, cOff, batch, strideA, strideB)
// Row-major C[b] = op(A[b]) op(B[b]) for b < batch, all contiguous in `heap` (byte offsets);
// strideA/strideB are 0 (broadcast) or the matrix size; C is dense.
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!sgemm) return throw_msg(env, "sgemm: no BLAS library loaded");
  if (argc != 12) return throw_msg(env, "sgemm: expected 12 arguments");
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return throw_msg(env, "sgemm: heap must be an ArrayBuffer");
  int ta, tb;
  int64_t v[9];
  if (!get_bool(env, argv[1], &ta) || !get_bool(env, argv[2], &tb)) return throw_msg(env, "sgemm: transA/transB must be booleans");
  for (int i = 0; i < 9; i++) if (!get_i64(env, argv[3 + i], &v[i])) return throw_msg(env, "sgemm: expected integer arguments");
  int64_t M = v[0], N = v[1], K = v[2], aOff = v[3], bOff = v[4], cOff = v[5], batch = v[6], sA = v[7], sB = v[8];
  if (M < 0 || N < 0 || K < 0 || batch < 0 || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return throw_msg(env, "sgemm: bad sizes");
  if ((sA != 0 && sA != M * K) || (sB != 0 && sB != K * N)) return throw_msg(env, "sgemm: strides must be 0 or the matrix size");
  int64_t lastA = batch > 0 ? (sA ? sA * batch : M * K) : 0, lastB = batch > 0 ? (sB ? sB * batch : K * N) : 0;
  if (!in_bounds(len, aOff, lastA) || !in_bounds(len, bOff, lastB) || !in_bounds(len, cOff, M * N * batch)) {
    return throw_msg(env, "sgemm: operand outside the heap");
  }
  char *base = (char *)data;
  const float *A = (const float *)(base + aOff), *B = (const float *)(base + bOff);
  float *C = (float *)(base + cOff);
  int lda = ta ? (int)M : (int)K, ldb = tb ? (int)K : (int)N;
  // Small products on one thread: OpenBLAS splits every product over 2^18 multiply-adds between
  // all its threads, and for a small model's (512 × 64 × 64: 0.1 ms of work) waking the second
  // thread costs about what it saves on an idle machine, and much more on a busy one.
  int threads = get_threads ? get_threads() : 1;
  int single = set_threads && threads > 1 && (double)M * (double)N * (double)K < SGEMM_SMALL_MNK;
  if (single) set_threads(1);
  for (int64_t b = 0; b < batch; b++) {
    if (K == 0) { memset(C + b * M * N, 0, (size_t)(M * N) * 4); continue; }
    sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, (int)M, (int)N, (int)K, 1.0f,
          A + b * sA, lda, B + b * sB, ldb, 0.0f, C + b * M * N, (int)N);
  }
  if (single) set_threads(threads);
  return NULL;
}

// ---- Per-example squared weight gradients of a linear layer --------------------------------
//
// sums[o, i] += Σ_b (Σ_t dy[b, t, o] · x[b, t, i])² for dy [B, T, O] and x [B, T, I]: each
// example's weight gradient G_b = dy_bᵀ x_b is built in registers, a tile of RO × 16 entries at a
// time, squared and added to the tile of sums, which stays in L1 across the B examples. Nothing
// of size O × I is written except the sums, once per call. Tiles are split over threads.
// The loops are written with GCC vector extensions and compiled twice: for AVX2+FMA (chosen at
// run time when the CPU has them) and for the baseline target.
typedef float v8f __attribute__((vector_size(32)));
// Unaligned access. Not memcpy: inside a target("avx2") function GCC expands memcpy with the
// baseline's 16-byte moves through the stack, and each 32-byte reload then stalls.
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define LOADU(p) (*(const v8u *)(p))
#define STOREU(p, v) (*(v8u *)(p) = (v))

#define RO 6

// One tile: rows ob·6 … ob·6+5, columns ic·16 … ic·16+15, all B examples, from packed panels
// (dyp: [ob][b][t][6], xp: [ic][b][t][16]; packing keeps the loads sequential: rows of dy and x
// 3 KB apart map to 4 of L1's 64 sets and evict each other). 12 accumulators in registers.
#define TILE_BODY                                                                                    \
  for (int64_t b = 0; b < B; b++) {                                                                  \
    const float *d = dyp + (ob * B + b) * T * RO, *xr = xp + (ic * B + b) * T * 16;                  \
    v8f a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0};                            \
    v8f a30 = {0}, a31 = {0}, a40 = {0}, a41 = {0}, a50 = {0}, a51 = {0};                            \
    for (int64_t t = 0; t < T; t++, d += RO, xr += 16) {                                             \
      v8f x0 = LOADU(xr), x1 = LOADU(xr + 8);                                                        \
      a00 += d[0] * x0; a01 += d[0] * x1;                                                            \
      a10 += d[1] * x0; a11 += d[1] * x1;                                                            \
      a20 += d[2] * x0; a21 += d[2] * x1;                                                            \
      a30 += d[3] * x0; a31 += d[3] * x1;                                                            \
      a40 += d[4] * x0; a41 += d[4] * x1;                                                            \
      a50 += d[5] * x0; a51 += d[5] * x1;                                                            \
    }                                                                                                \
    float *s = sums + ob * RO * I + ic * 16;                                                         \
    SQADD(s, a00, a01); SQADD(s + I, a10, a11); SQADD(s + 2 * I, a20, a21);                          \
    SQADD(s + 3 * I, a30, a31); SQADD(s + 4 * I, a40, a41); SQADD(s + 5 * I, a50, a51);              \
  }

#define SQADD(p, g0, g1) do {                                                                         \
    STOREU((p), LOADU(p) + (g0) * (g0));                                                             \
    STOREU((p) + 8, LOADU((p) + 8) + (g1) * (g1));                                                   \
  } while (0)

// Any entry (edges of tiles that do not fill 6 × 16).
static void sqacc_scalar(const float *dy, const float *x, float *sums, int64_t B, int64_t T, int64_t O, int64_t I,
                         int64_t o_begin, int64_t o_end, int64_t i_begin) {
  for (int64_t o = o_begin; o < o_end; o++) {
    for (int64_t i = i_begin; i < I; i++) {
      float acc = 0;
      for (int64_t b = 0; b < B; b++) {
        float g = 0;
        for (int64_t t = 0; t < T; t++) g += dy[(b * T + t) * O + o] * x[(b * T + t) * I + i];
        acc += g * g;
      }
      sums[o * I + i] += acc;
    }
  }
}

// Full tiles of output-row blocks ob_begin … ob_end − 1 (the edges are done by sqacc_scalar).
#define SQACC_BODY                                                                                   \
  int64_t nic = I / 16;                                                                              \
  for (int64_t ob = ob_begin; ob < ob_end; ob++) {                                                   \
    for (int64_t ic = 0; ic < nic; ic++) { TILE_BODY }                                               \
  }

typedef struct {
  const float *dy, *x, *dyp, *xp;
  float *sums;
  int64_t B, T, O, I, ob_begin, ob_end;
} sqacc_job;

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void sqacc_avx2(const float *dyp, const float *xp, float *sums, int64_t B, int64_t T, int64_t I, int64_t ob_begin, int64_t ob_end) {
  SQACC_BODY
}
#define HAVE_X86_DISPATCH 1
#endif

static void sqacc_base(const float *dyp, const float *xp, float *sums, int64_t B, int64_t T, int64_t I, int64_t ob_begin, int64_t ob_end) {
  SQACC_BODY
}

#define I_WHOLE(I) ((I) - (I) % 16)

static void *sqacc_run(void *arg) {
  sqacc_job *j = (sqacc_job *)arg;
#ifdef HAVE_X86_DISPATCH
  if (have_avx2) sqacc_avx2(j->dyp, j->xp, j->sums, j->B, j->T, j->I, j->ob_begin, j->ob_end);
  else
#endif
  sqacc_base(j->dyp, j->xp, j->sums, j->B, j->T, j->I, j->ob_begin, j->ob_end);
  // Edges: the last O % 6 rows go to the thread with the last block, columns past I − I % 16 to each.
  int64_t iw = I_WHOLE(j->I);
  if (iw < j->I) sqacc_scalar(j->dy, j->x, j->sums, j->B, j->T, j->O, j->I, j->ob_begin * RO, j->ob_end * RO, iw);
  if (j->ob_end == j->O / RO && j->O % RO) sqacc_scalar(j->dy, j->x, j->sums, j->B, j->T, j->O, j->I, j->ob_end * RO, j->O, 0);
  return NULL;
}

// squaredGradAccum(heap, dyOff, xOff, B, T, O, I, sums: Float32Array)
static napi_value SquaredGradAccum(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 8) return throw_msg(env, "squaredGradAccum: expected 8 arguments");
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return throw_msg(env, "squaredGradAccum: heap must be an ArrayBuffer");
  int64_t v[6];
  for (int i = 0; i < 6; i++) if (!get_i64(env, argv[1 + i], &v[i])) return throw_msg(env, "squaredGradAccum: expected integer arguments");
  int64_t dyOff = v[0], xOff = v[1], B = v[2], T = v[3], O = v[4], I = v[5];
  if (B < 0 || T < 0 || O < 0 || I < 0 || O > INT32_MAX || I > INT32_MAX || T > INT32_MAX) return throw_msg(env, "squaredGradAccum: bad sizes");
  if (!in_bounds(len, dyOff, B * T * O) || !in_bounds(len, xOff, B * T * I)) return throw_msg(env, "squaredGradAccum: operand outside the heap");
  napi_typedarray_type type;
  size_t n = 0;
  void *sdata = NULL;
  if (napi_get_typedarray_info(env, argv[7], &type, &n, &sdata, NULL, NULL) != napi_ok || type != napi_float32_array) {
    return throw_msg(env, "squaredGradAccum: sums must be a Float32Array");
  }
  if ((int64_t)n != O * I) return throw_msg(env, "squaredGradAccum: sums has the wrong length");
  detect_cpu();
  int nt = sqacc_threads > 0 ? sqacc_threads : (get_threads ? get_threads() : 1);
  const float *dy = (const float *)((char *)data + dyOff), *x = (const float *)((char *)data + xOff);
  float *sums = (float *)sdata;
  int64_t nob = O / RO, nic = I / 16;
  // Panels: dyp[ob][b][t][r] = dy[b, t, ob·6 + r], xp[ic][b][t][c] = x[b, t, ic·16 + c].
  float *dyp = (float *)malloc((size_t)(nob * B * T * RO + 1) * sizeof(float));
  float *xp = (float *)malloc((size_t)(nic * B * T * 16 + 1) * sizeof(float));
  if (!dyp || !xp) { free(dyp); free(xp); return throw_msg(env, "squaredGradAccum: out of memory"); }
  for (int64_t ob = 0; ob < nob; ob++)
    for (int64_t bt = 0; bt < B * T; bt++) memcpy(dyp + (ob * B * T + bt) * RO, dy + bt * O + ob * RO, RO * sizeof(float));
  for (int64_t ic = 0; ic < nic; ic++)
    for (int64_t bt = 0; bt < B * T; bt++) memcpy(xp + (ic * B * T + bt) * 16, x + bt * I + ic * 16, 16 * sizeof(float));
  if (nt > nob) nt = (int)nob;
  if (nt < 1) nt = 1;
  if (nt > 64) nt = 64;
  sqacc_job jobs[64];
  pthread_t tids[64];
  int started[64] = {0};
  for (int k = 0; k < nt; k++) jobs[k] = (sqacc_job){ dy, x, dyp, xp, sums, B, T, O, I, nob * k / nt, nob * (k + 1) / nt };
  // Threads 1..nt-1 start; this thread does part 0; a part whose thread cannot start runs here.
  for (int k = 1; k < nt; k++) started[k] = pthread_create(&tids[k], NULL, sqacc_run, &jobs[k]) == 0;
  sqacc_run(&jobs[0]);
  for (int k = 1; k < nt; k++) {
    if (started[k]) pthread_join(tids[k], NULL);
    else sqacc_run(&jobs[k]);
  }
  free(dyp);
  free(xp);
  return NULL;
}

// ---- Optimizer kernels: the clipping norm's sum of squares and the AdamW update -------------
//
// Both repeat, operation for operation, the JavaScript loops of ml/optim (the fallback where the
// addon is missing), so the two paths give the same bits: the sum of squares adds x·x (exact in
// double) into 8 double lanes per block of SQ_BLOCK elements, lanes combined pairwise and block
// sums added in order; AdamW computes in double and rounds to float32 where the JavaScript stores
// into a Float32Array (and where torch stores a float32 tensor). Neither result depends on the
// thread count: threads split blocks and elements, never a sum. No fused multiply-add: it would
// round differently from JavaScript.
#if defined(__clang__)
#pragma clang fp contract(off)
#define NO_CONTRACT
#elif defined(__GNUC__)
#define NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define NO_CONTRACT
#endif

#define SQ_BLOCK 65536
#define PAR_MIN (1 << 18)  // elements below which one thread does it all (a thread start costs ~30 µs)

#define SUMSQ_BODY                                                                                    \
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                           \
  int64_t i = 0;                                                                                     \
  for (; i + 8 <= n; i += 8)                                                                         \
    for (int l = 0; l < 8; l++) a[l] += (double)x[i + l] * (double)x[i + l];                         \
  for (; i < n; i++) a[i & 7] += (double)x[i] * (double)x[i];                                        \
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) NO_CONTRACT static double sumsq_block_avx2(const float *x, int64_t n) { SUMSQ_BODY }
#endif
NO_CONTRACT static double sumsq_block_base(const float *x, int64_t n) { SUMSQ_BODY }

static double sumsq_block(const float *x, int64_t n) {
#ifdef HAVE_X86_DISPATCH
  if (have_avx2) return sumsq_block_avx2(x, n);
#endif
  return sumsq_block_base(x, n);
}

// decay = 1 − lr·wd (1: none), β1, 1 − β1, β2, 1 − β2, eps, step size lr/(1 − β1^t), √(1 − β2^t), gradient scale.
typedef struct { double decay, b1, c1, b2, c2, eps, step, bc2, scale; } adam_hyper;

// One element, as ml/optim/adamw.ts's loop, GI being the scaled gradient as a double. The weight
// decay is applied unconditionally: with decay 1 (no decay) the product rounds back to x exactly,
// as the gradient scale 1 does, so no branch stops the loop from vectorising.
#define ADAM_ELEMENT(GI)                                                                              \
  {                                                                                                  \
    double gi = (GI);                                                                                \
    float mi = (float)(b1 * (double)m[i] + c1 * gi);                                                 \
    float vi = (float)(b2 * (double)v[i] + c2 * gi * gi);                                            \
    m[i] = mi;                                                                                       \
    v[i] = vi;                                                                                       \
    double xi = (double)(float)((double)x[i] * decay);                                               \
    double den = (double)(float)((double)(float)(sqrt((double)vi) / bc2) + eps);                     \
    x[i] = (float)(xi - step * ((double)mi / den));                                                  \
  }

// Elements [0, n) of one parameter; g NULL: a zero gradient (the rows a row-sparse gradient lacks).
#define ADAM_BODY                                                                                     \
  const double b1 = h->b1, c1 = h->c1, b2 = h->b2, c2 = h->c2, eps = h->eps, step = h->step;         \
  const double bc2 = h->bc2, scale = h->scale, decay = h->decay;                                     \
  if (!g) { for (int64_t i = 0; i < n; i++) ADAM_ELEMENT(0.0) }                                      \
  else { for (int64_t i = 0; i < n; i++) ADAM_ELEMENT((double)(float)((double)g[i] * scale)) }

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) NO_CONTRACT static void adam_avx2(float *restrict x, const float *restrict g, float *restrict m, float *restrict v, int64_t n, const adam_hyper *h) { ADAM_BODY }
#endif
NO_CONTRACT static void adam_base(float *restrict x, const float *restrict g, float *restrict m, float *restrict v, int64_t n, const adam_hyper *h) { ADAM_BODY }

static void adam_range(float *x, const float *g, float *m, float *v, int64_t n, const adam_hyper *h) {
#ifdef HAVE_X86_DISPATCH
  if (have_avx2) { adam_avx2(x, g, m, v, n, h); return; }
#endif
  adam_base(x, g, m, v, n, h);
}

typedef struct {
  float *x, *m, *v;
  const float *g;        // dense gradient, or the gradient rows of a row-sparse one, or NULL (zero)
  const int32_t *rows;   // row-sparse: ascending row ids (NULL: dense)
  int64_t nrows, width;
  int64_t begin, end;    // this part: elements (dense) or parameter rows (row-sparse)
  const adam_hyper *h;
} adam_job;

static void *adam_run(void *arg) {
  adam_job *j = (adam_job *)arg;
  if (!j->rows) {
    adam_range(j->x + j->begin, j->g ? j->g + j->begin : NULL, j->m + j->begin, j->v + j->begin, j->end - j->begin, j->h);
    return NULL;
  }
  // Row-sparse: each listed row with its gradient row, the stretches between them with zero.
  int64_t w = j->width, lo = 0, hi = j->nrows;
  while (lo < hi) { int64_t mid = (lo + hi) / 2; if (j->rows[mid] < j->begin) lo = mid + 1; else hi = mid; }
  int64_t k = lo, r = j->begin;
  while (r < j->end) {
    int64_t next = k < j->nrows && j->rows[k] < j->end ? j->rows[k] : j->end;
    if (next > r) adam_range(j->x + r * w, NULL, j->m + r * w, j->v + r * w, (next - r) * w, j->h);
    if (next < j->end) adam_range(j->x + next * w, j->g + k * w, j->m + next * w, j->v + next * w, w, j->h);
    k++;
    r = next + 1;
  }
  return NULL;
}

typedef struct { const float *x; int64_t n, begin, end; double *sums; } sumsq_job;

static void *sumsq_run(void *arg) {
  sumsq_job *j = (sumsq_job *)arg;
  for (int64_t b = j->begin; b < j->end; b++) {
    int64_t s = b * SQ_BLOCK, e = s + SQ_BLOCK < j->n ? s + SQ_BLOCK : j->n;
    j->sums[b] = sumsq_block(j->x + s, e - s);
  }
  return NULL;
}

static int optim_threads(int64_t n) {
  if (n < PAR_MIN) return 1;
  int nt = sqacc_threads > 0 ? sqacc_threads : (get_threads ? get_threads() : 1);
  return nt < 1 ? 1 : nt > 64 ? 64 : nt;
}

// Runs parts 0 … nt−1 of `jobs` (each `size` bytes): threads 1 … nt−1 start, this thread does
// part 0; a part whose thread cannot start runs here.
static void run_parts(void *(*fn)(void *), void *jobs, size_t size, int nt) {
  pthread_t tids[64];
  int started[64] = {0};
  char *p = (char *)jobs;
  for (int k = 1; k < nt; k++) started[k] = pthread_create(&tids[k], NULL, fn, p + k * size) == 0;
  fn(p);
  for (int k = 1; k < nt; k++) {
    if (started[k]) pthread_join(tids[k], NULL);
    else fn(p + k * size);
  }
}

static int get_f32(napi_env env, napi_value v, float **data, size_t *n) {
  napi_typedarray_type type;
  void *d = NULL;
  if (napi_get_typedarray_info(env, v, &type, n, &d, NULL, NULL) != napi_ok || type != napi_float32_array) return 0;
  *data = (float *)d;
  return 1;
}

// sumSquares(x: Float32Array) -> number
static napi_value SumSquares(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x;
  size_t n;
  if (argc != 1 || !get_f32(env, argv[0], &x, &n)) return throw_msg(env, "sumSquares: expected a Float32Array");
  detect_cpu();
  int64_t nb = ((int64_t)n + SQ_BLOCK - 1) / SQ_BLOCK;
  double small[64];
  double *sums = nb <= 64 ? small : (double *)malloc((size_t)nb * sizeof(double));
  if (!sums) return throw_msg(env, "sumSquares: out of memory");
  int nt = optim_threads((int64_t)n);
  if (nt > nb) nt = (int)nb;
  if (nt < 1) nt = 1;
  sumsq_job jobs[64];
  for (int k = 0; k < nt; k++) jobs[k] = (sumsq_job){ x, (int64_t)n, nb * k / nt, nb * (k + 1) / nt, sums };
  run_parts(sumsq_run, jobs, sizeof jobs[0], nt);
  double total = 0;
  for (int64_t b = 0; b < nb; b++) total += sums[b];
  if (sums != small) free(sums);
  napi_value out;
  CHECK(napi_create_double(env, total, &out));
  return out;
}

// adamw(param, grad | null, expAvg, expAvgSq, rows | null, width, hyper: Float64Array(7))
// Float32Arrays of the parameter's size, except that with `rows` (an ascending Int32Array) grad
// holds only those rows of `width` values (a row-sparse gradient); null grad: a zero gradient.
// hyper: 1 − lr·wd, β1, β2, eps, step size lr/(1 − β1^t), √(1 − β2^t), gradient scale.
static napi_value AdamW(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!exact_args(env, info, argv, 7, "adamw")) return NULL;
  float *x, *g = NULL, *m, *v;
  size_t n, ng = 0, nm, nv;
  napi_valuetype t;
  if (!get_f32(env, argv[0], &x, &n) || !get_f32(env, argv[2], &m, &nm) || !get_f32(env, argv[3], &v, &nv)) return throw_msg(env, "adamw: param and moments must be Float32Arrays");
  if (nm != n || nv != n) return throw_msg(env, "adamw: moments must have the parameter's size");
  CHECK(napi_typeof(env, argv[1], &t));
  if (t != napi_null && !get_f32(env, argv[1], &g, &ng)) return throw_msg(env, "adamw: grad must be a Float32Array or null");
  int64_t width = 0;
  if (!get_i64(env, argv[5], &width) || width < 1 || n % (size_t)width) return throw_msg(env, "adamw: width must divide the parameter's size");
  int32_t *rows = NULL;
  size_t nrows = 0;
  napi_typedarray_type type;
  void *d = NULL;
  CHECK(napi_typeof(env, argv[4], &t));
  if (t != napi_null) {
    if (napi_get_typedarray_info(env, argv[4], &type, &nrows, &d, NULL, NULL) != napi_ok || type != napi_int32_array) return throw_msg(env, "adamw: rows must be an Int32Array or null");
    rows = (int32_t *)d;
    if (!g || ng != nrows * (size_t)width) return throw_msg(env, "adamw: a row-sparse grad needs width values per row");
    int64_t R = (int64_t)n / width;
    for (size_t k = 0; k < nrows; k++) {
      if (rows[k] < 0 || rows[k] >= R || (k > 0 && rows[k] <= rows[k - 1])) return throw_msg(env, "adamw: rows must be ascending, unique and inside the parameter");
    }
  } else if (g && ng != n) return throw_msg(env, "adamw: grad must have the parameter's size");
  size_t nh;
  if (napi_get_typedarray_info(env, argv[6], &type, &nh, &d, NULL, NULL) != napi_ok || type != napi_float64_array || nh != 7) return throw_msg(env, "adamw: hyper must be a Float64Array of 7");
  const double *hy = (const double *)d;
  adam_hyper h = { hy[0], hy[1], 1 - hy[1], hy[2], 1 - hy[2], hy[3], hy[4], hy[5], hy[6] };
  detect_cpu();
  int nt = optim_threads((int64_t)n);
  int64_t units = rows ? (int64_t)n / width : (int64_t)n;
  if (nt > units) nt = (int)units;
  if (nt < 1) nt = 1;
  adam_job jobs[64];
  for (int k = 0; k < nt; k++) {
    int64_t b = units * k / nt, e = units * (k + 1) / nt;
    if (!rows) { b -= b % 16; e = k == nt - 1 ? units : e - e % 16; }  // whole vectors per part
    jobs[k] = (adam_job){ x, m, v, g, rows, (int64_t)nrows, width, b, e, &h };
  }
  run_parts(adam_run, jobs, sizeof jobs[0], nt);
  return NULL;
}

// ---- Exact (erf) GELU and its gradient, elementwise on the wasm heap -------------------------
//
// tfjs-backend-wasm's Erf and Exp kernels take ~25 ns per element (9 ms for one [1408, 256]
// activation of the demo model, 4 such calls per layer and step), and libm's erff is not much
// faster; these loops vectorise: erf as Eigen's (and XLA's) float rational approximation (max
// abs error 4e-7 with float32 rounding), exp as Cephes' (2 ulp). In the order of
// ml/bert/model.ts's tfjs formula: y = (x·0.5)·(1 + erf(x·√½)), dx = dy·(Φ(x) + x·φ(x)).
// The clamps vectorise (min/max) only when GCC may ignore NaN, infinities and the sign of zero.
#if defined(__GNUC__) && !defined(__clang__)
#define CLAMPS_VECTORISE __attribute__((optimize("finite-math-only", "no-signed-zeros", "no-trapping-math")))
#else
#define CLAMPS_VECTORISE
#endif
CLAMPS_VECTORISE static inline __attribute__((always_inline)) float erf_approx(float x) {
  x = x < -4.f ? -4.f : x;  // erf is ±1 in float32 beyond ±4
  x = x > 4.f ? 4.f : x;
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  return x * p / q;
}

CLAMPS_VECTORISE static inline __attribute__((always_inline)) float exp_approx(float x) {
  x = x < -87.f ? -87.f : x;  // keeps 2^n a normal float
  x = x > 88.f ? 88.f : x;
  // n = round(x / ln 2) by the 1.5·2^23 trick (vectorises; floorf does not without -ffast-math)
  float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  x = x - n * 0.693359375f;
  x = x - n * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * (x * x) + x + 1.f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float two_n;
  memcpy(&two_n, &bits, sizeof two_n);
  return y * two_n;
}

typedef struct { const float *x, *dy; float *out; int64_t begin, end; } gelu_job;

#define GELU_FWD_BODY                                                                                 \
  const float *restrict x = j->x + j->begin;                                                         \
  float *restrict out = j->out + j->begin;                                                           \
  int64_t n = j->end - j->begin;                                                                     \
  for (int64_t i = 0; i < n; i++) {                                                                  \
    float v = x[i];                                                                                  \
    out[i] = (v * 0.5f) * (1.0f + erf_approx(v * 0.70710678118654752f));                             \
  }
#define GELU_GRAD_BODY                                                                                \
  const float *restrict x = j->x + j->begin, *restrict dy = j->dy + j->begin;                        \
  float *restrict out = j->out + j->begin;                                                           \
  int64_t n = j->end - j->begin;                                                                     \
  for (int64_t i = 0; i < n; i++) {                                                                  \
    float v = x[i];                                                                                  \
    float cdf = 0.5f * (1.0f + erf_approx(v * 0.70710678118654752f));                                \
    float pdf = 0.39894228040143268f * exp_approx(-0.5f * (v * v));                                  \
    out[i] = dy[i] * (cdf + v * pdf);                                                                \
  }

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) CLAMPS_VECTORISE static void gelu_fwd_avx2(gelu_job *j) { GELU_FWD_BODY }
__attribute__((target("avx2,fma"))) CLAMPS_VECTORISE static void gelu_grad_avx2(gelu_job *j) { GELU_GRAD_BODY }
#endif
CLAMPS_VECTORISE static void gelu_fwd_base(gelu_job *j) { GELU_FWD_BODY }
CLAMPS_VECTORISE static void gelu_grad_base(gelu_job *j) { GELU_GRAD_BODY }

static void *gelu_fwd_run(void *arg) {
#ifdef HAVE_X86_DISPATCH
  if (have_avx2) { gelu_fwd_avx2((gelu_job *)arg); return NULL; }
#endif
  gelu_fwd_base((gelu_job *)arg);
  return NULL;
}

static void *gelu_grad_run(void *arg) {
#ifdef HAVE_X86_DISPATCH
  if (have_avx2) { gelu_grad_avx2((gelu_job *)arg); return NULL; }
#endif
  gelu_grad_base((gelu_job *)arg);
  return NULL;
}

// gelu(heap, xOff, outOff, n) / geluGrad(heap, xOff, dyOff, outOff, n): byte offsets into the heap.
static napi_value gelu_common(napi_env env, napi_callback_info info, int grad) {
  napi_value argv[5];
  size_t want = grad ? 5 : 4;
  const char *what = grad ? "geluGrad" : "gelu";
  char *base = NULL;
  size_t len = 0;
  if (!exact_args(env, info, argv, want, what) || !heap_arg(env, argv[0], &base, &len, what)) return NULL;
  int64_t v[4];
  for (size_t i = 1; i < want; i++) if (!get_i64(env, argv[i], &v[i - 1])) return throw_msg(env, "gelu: expected integer arguments");
  int64_t n = v[want - 2];
  int64_t xOff = v[0], dyOff = grad ? v[1] : 0, outOff = grad ? v[2] : v[1];
  if (n < 0 || !in_bounds(len, xOff, n) || !in_bounds(len, outOff, n) || (grad && !in_bounds(len, dyOff, n))) return throw_msg(env, "gelu: operand outside the heap");
  detect_cpu();
  int nt = optim_threads(n);
  gelu_job jobs[64];
  for (int k = 0; k < nt; k++) jobs[k] = (gelu_job){ (const float *)(base + xOff), (const float *)(base + dyOff), (float *)(base + outOff), n * k / nt, n * (k + 1) / nt };
  run_parts(grad ? gelu_grad_run : gelu_fwd_run, jobs, sizeof jobs[0], nt);
  return NULL;
}

static napi_value Gelu(napi_env env, napi_callback_info info) { return gelu_common(env, info, 0); }
static napi_value GeluGrad(napi_env env, napi_callback_info info) { return gelu_common(env, info, 1); }

// ---- Column sums (bias and LayerNorm parameter gradients) -----------------------------------
//
// out[j] = Σ_r x[r·cols + j] for a row-major [rows, cols] float32 matrix, accumulated in float32
// row after row (the order of tfjs's own Sum over axis 0, which transposes first). tfjs-backend-
// wasm's Sum over leading axes took ~1 ms per call on demo-sized gradients, 46 % of the demo
// step's kernel time; this reads the matrix once, contiguously, and vectorises across columns.
#define COLSUM_BODY                                                                                   \
  for (int64_t j = 0; j < cols; j++) out[j] = 0.f;                                                   \
  for (int64_t r = 0; r < rows; r++) {                                                               \
    const float *restrict row = x + r * cols;                                                        \
    for (int64_t j = 0; j < cols; j++) out[j] += row[j];                                             \
  }
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void colsum_avx2(const float *restrict x, float *restrict out, int64_t rows, int64_t cols) { COLSUM_BODY }
#endif
static void colsum_base(const float *restrict x, float *restrict out, int64_t rows, int64_t cols) { COLSUM_BODY }

// columnSum(heap, xOff, outOff, rows, cols): byte offsets into the heap; out must not overlap x.
static napi_value ColumnSum(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char *data = NULL;
  size_t len = 0;
  if (!exact_args(env, info, argv, 5, "columnSum") || !heap_arg(env, argv[0], &data, &len, "columnSum")) return NULL;
  int64_t v[4];
  for (int i = 0; i < 4; i++) if (!get_i64(env, argv[i + 1], &v[i])) return throw_msg(env, "columnSum: expected integer arguments");
  int64_t xOff = v[0], outOff = v[1], rows = v[2], cols = v[3];
  if (rows < 0 || cols < 0 || !in_bounds(len, xOff, rows * cols) || !in_bounds(len, outOff, cols)) return throw_msg(env, "columnSum: operand outside the heap");
  if (outOff < xOff + rows * cols * 4 && xOff < outOff + cols * 4) return throw_msg(env, "columnSum: output overlaps the input");
  const float *x = (const float *)(data + xOff);
  float *out = (float *)(data + outOff);
  detect_cpu();
#ifdef HAVE_X86_DISPATCH
  if (have_avx2) { colsum_avx2(x, out, rows, cols); return NULL; }
#endif
  colsum_base(x, out, rows, cols);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "load", NULL, Load, NULL, NULL, NULL, napi_default, NULL },
    { "setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL },
    { "sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL },
    { "squaredGradAccum", NULL, SquaredGradAccum, NULL, NULL, NULL, napi_default, NULL },
    { "sumSquares", NULL, SumSquares, NULL, NULL, NULL, napi_default, NULL },
    { "adamw", NULL, AdamW, NULL, NULL, NULL, napi_default, NULL },
    { "gelu", NULL, Gelu, NULL, NULL, NULL, napi_default, NULL },
    { "geluGrad", NULL, GeluGrad, NULL, NULL, NULL, napi_default, NULL },
    { "columnSum", NULL, ColumnSum, NULL, NULL, NULL, napi_default, NULL },
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
