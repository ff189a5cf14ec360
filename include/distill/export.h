/* libdistill: symbol visibility and attribute macros.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * DISTILL_API are exported (and listed in lib/libdistill.map).  Every macro
 * is #ifndef-guarded so an embedder may override it. */
#ifndef DISTILL_EXPORT_H
#define DISTILL_EXPORT_H

#ifndef DISTILL_API
#  if defined(_WIN32) && defined(DISTILL_BUILDING_DLL)
#    define DISTILL_API __declspec(dllexport)
#  elif defined(__GNUC__) && __GNUC__ >= 4
#    define DISTILL_API __attribute__((visibility("default")))
#  else
#    define DISTILL_API
#  endif
#endif

#ifndef DISTILL_NODISCARD
#  if defined(__GNUC__) && (__GNUC__ > 3 || (__GNUC__ == 3 && __GNUC_MINOR__ >= 4))
#    define DISTILL_NODISCARD __attribute__((warn_unused_result))
#  else
#    define DISTILL_NODISCARD
#  endif
#endif

#ifndef DISTILL_DEPRECATED
#  if defined(__GNUC__)
#    define DISTILL_DEPRECATED(msg) __attribute__((deprecated(msg)))
#  else
#    define DISTILL_DEPRECATED(msg)
#  endif
#endif

#ifdef __cplusplus
#  define DISTILL_BEGIN_DECLS extern "C" {
#  define DISTILL_END_DECLS }
#else
#  define DISTILL_BEGIN_DECLS
#  define DISTILL_END_DECLS
#endif

#endif /* DISTILL_EXPORT_H */
