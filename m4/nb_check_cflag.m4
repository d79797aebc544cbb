# NB_CHECK_CFLAG(FLAG, VARIABLE)
# Append FLAG to VARIABLE when the C compiler accepts it (warnings as errors).
AC_DEFUN([NB_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([nb_cache], [nb_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [nb_cache], [
    nb_save_CFLAGS="$CFLAGS"
    CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AS_VAR_SET([nb_cache], [yes])], [AS_VAR_SET([nb_cache], [no])])
    CFLAGS="$nb_save_CFLAGS"])
  AS_VAR_IF([nb_cache], [yes], [$2="$$2 $1"])
  AS_VAR_POPDEF([nb_cache])
])
