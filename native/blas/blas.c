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

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
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
  for (int64_t b = 0; b < batch; b++) {
    if (K == 0) { memset(C + b * M * N, 0, (size_t)(M * N) * 4); continue; }
    sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, (int)M, (int)N, (int)K, 1.0f,
          A + b * sA, lda, B + b * sB, ldb, 0.0f, C + b * M * N, (int)N);
  }
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

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "load", NULL, Load, NULL, NULL, NULL, napi_default, NULL },
    { "setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL },
    { "sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL },
    { "squaredGradAccum", NULL, SquaredGradAccum, NULL, NULL, NULL, napi_default, NULL },
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
