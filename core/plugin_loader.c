/*
 * plugin_loader.c - dlopen-based plugin discovery and validation.
 *
 * Every shared object is first loaded in a child process (probe_files):
 * a constructor that exits, crashes or never returns, or a descriptor that
 * is a garbage pointer, then ends the child, and the host reports the file
 * instead of exiting with it, dying or hanging. Only the files the child
 * loaded whole are then loaded in this process.
 */
#define _GNU_SOURCE
#include "plugin_loader.h"
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Seconds the child may spend on one file before it is killed. */
#define PROBE_SECONDS 20

#ifndef NB_PKGLIBDIR
#define NB_PKGLIBDIR ""
#endif

int schema_count(const nb_param_spec *schema)
{
    int n = 0;
    while (schema && schema[n].name) n++;
    return n;
}

static const char *kind_word(const nb_plugin_desc *d)
{
    return d->kind == NB_KIND_MODEL ? "model" : d->kind == NB_KIND_SAMPLER ? "sampler" : "plugin";
}

int plugin_values_check(const nb_plugin_desc *d, int n_values, char **err)
{
    int n = schema_count(d->params);
    if (n_values != n)
        return nb_fail(err, NB_EINVAL, "%s %s: %d parameter value%s given for a schema of %d",
                       kind_word(d), d->name, n_values, n_values == 1 ? "" : "s", n);
    return NB_OK;
}

int plugin_model_init(const nb_plugin_desc *d, const nb_host *h, const nb_value *values,
                      int n_values, const nb_train *train, int32_t dim, uint64_t seed,
                      void **state, char **err)
{
    if (d->kind != NB_KIND_MODEL)
        return nb_fail(err, NB_EINVAL, "%s %s is not a model", kind_word(d), d->name);
    int rc = plugin_values_check(d, n_values, err);
    if (rc != NB_OK) return rc;
    const nb_model_vt *vt = d->vtable;
    return vt->init(h, values, train, dim, seed, state, err);
}

int plugin_sampler_init(const nb_plugin_desc *d, const nb_host *h, const nb_value *values,
                        int n_values, const nb_train *train, int32_t dim, int32_t max_batch,
                        uint64_t seed, void **state, char **err)
{
    if (d->kind != NB_KIND_SAMPLER)
        return nb_fail(err, NB_EINVAL, "%s %s is not a sampler", kind_word(d), d->name);
    int rc = plugin_values_check(d, n_values, err);
    if (rc != NB_OK) return rc;
    const nb_sampler_vt *vt = d->vtable;
    return vt->init(h, values, train, dim, max_batch, seed, state, err);
}

static int valid_name(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* A schema default must parse as its type and lie inside the range. */
static int check_schema(const nb_plugin_desc *d, const char *path, char **err)
{
    for (int i = 0; d->params && d->params[i].name; i++) {
        const nb_param_spec *p = &d->params[i];
        char *end = NULL;
        if (!valid_name(p->name) && !(p->name[0] >= 'A' && p->name[0] <= 'Z'))
            return nb_fail(err, NB_EINVAL, "%s: plugin \"%s\": bad parameter name \"%s\"",
                           path, d->name, p->name);
        if (!p->def)
            return nb_fail(err, NB_EINVAL, "%s: plugin \"%s\": parameter \"%s\" has no default",
                           path, d->name, p->name);
        switch (nb_param_type(p)) {
        case NB_PARAM_INT:
        case NB_PARAM_FLOAT: {
            double v = strtod(p->def, &end);
            if (end == p->def || *end || v < p->min || v > p->max)
                return nb_fail(err, NB_EINVAL,
                               "%s: plugin \"%s\": default %s of \"%s\" is not in [%g, %g]",
                               path, d->name, p->def, p->name, p->min, p->max);
            break;
        }
        case NB_PARAM_BOOL:
            if (strcmp(p->def, "true") && strcmp(p->def, "false"))
                return nb_fail(err, NB_EINVAL, "%s: plugin \"%s\": default of \"%s\" is not a bool",
                               path, d->name, p->name);
            break;
        case NB_PARAM_CHOICE:
            if (!p->choices)
                return nb_fail(err, NB_EINVAL, "%s: plugin \"%s\": choice \"%s\" has no choices",
                               path, d->name, p->name);
            break;
        default:
            return nb_fail(err, NB_EINVAL, "%s: plugin \"%s\": parameter \"%s\" has unknown type %d",
                           path, d->name, p->name, p->type);
        }
    }
    return NB_OK;
}

#define REQUIRE(vt, field)                                                    \
    do {                                                                      \
        if (!(vt)->field)                                                     \
            return nb_fail(err, NB_EINVAL,                                    \
                           "%s: plugin \"%s\": required callback %s is NULL", \
                           path, d->name, #field);                            \
    } while (0)

int plugin_validate(const nb_plugin_desc *d, const char *path, char **err)
{
    if (d->abi_major != NB_ABI_MAJOR || d->abi_minor > NB_ABI_MINOR)
        return nb_fail(err, NB_EINVAL,
                       "%s: plugin ABI %u.%u is not compatible with this negbench (ABI %d.%d)",
                       path, d->abi_major, d->abi_minor, NB_ABI_MAJOR, NB_ABI_MINOR);
    if (d->struct_size < sizeof(nb_plugin_desc))
        return nb_fail(err, NB_EINVAL, "%s: descriptor struct_size %u is smaller than %zu",
                       path, d->struct_size, sizeof(nb_plugin_desc));
    if (!valid_name(d->name))
        return nb_fail(err, NB_EINVAL, "%s: plugin name \"%s\" is not [a-z0-9_]+",
                       path, d->name ? d->name : "(null)");
    if (!d->vtable)
        return nb_fail(err, NB_EINVAL, "%s: plugin \"%s\": vtable is NULL", path, d->name);
    if (d->kind == NB_KIND_MODEL) {
        const nb_model_vt *vt = d->vtable;
        REQUIRE(vt, init); REQUIRE(vt, blocks); REQUIRE(vt, forward);
        REQUIRE(vt, grads); REQUIRE(vt, backward); REQUIRE(vt, free);
    } else if (d->kind == NB_KIND_SAMPLER) {
        const nb_sampler_vt *vt = d->vtable;
        REQUIRE(vt, init); REQUIRE(vt, reg_rows); REQUIRE(vt, negatives);
        REQUIRE(vt, backward); REQUIRE(vt, free);
    } else {
        return nb_fail(err, NB_EINVAL, "%s: plugin \"%s\": unknown kind %u",
                       path, d->name, d->kind);
    }
    return check_schema(d, path, err);
}

static const char *kind_name(uint32_t k)
{
    return k == NB_KIND_MODEL ? "model" : "sampler";
}

/* Registers descriptors; dup_from is the index where this directory's
 * plugins start (duplicates before it are shadowed, after it are errors). */
static int load_file(nb_registry *r, const char *path, int dup_from, char **err)
{
    int rc = NB_OK;
    int first_new = r->n;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return nb_fail(err, NB_EINVAL, "%s: cannot load: %s", path, dlerror());
    nb_descriptor_fn fn;
    *(void **)&fn = dlsym(h, NB_DESCRIPTOR_SYMBOL);
    if (!fn) {
        rc = nb_fail(err, NB_EINVAL, "%s: no %s symbol: not a negbench plugin", path,
                     NB_DESCRIPTOR_SYMBOL);
        goto out;
    }
    for (uint32_t i = 0;; i++) {
        if (i == NB_MAX_DESCRIPTORS) {
            rc = nb_fail(err, NB_EINVAL, "%s: more than %d descriptors: its list does not "
                         "end with NULL", path, NB_MAX_DESCRIPTORS);
            goto out;
        }
        const nb_plugin_desc *d = fn(i);
        if (!d) break;
        if ((rc = plugin_validate(d, path, err)) != NB_OK) goto out;
        int shadowed = 0;
        for (int j = 0; j < r->n; j++) {
            if (r->plugins[j].desc->kind != d->kind || strcmp(r->plugins[j].desc->name, d->name))
                continue;
            if (j >= dup_from) {
                rc = nb_fail(err, NB_EINVAL, "%s: duplicate %s name \"%s\" (also in %s)", path,
                             kind_name(d->kind), d->name, r->plugins[j].path);
                goto out;
            }
            shadowed = 1;
        }
        if (shadowed) continue;
        r->plugins = nb_xrealloc(r->plugins, (size_t)(r->n + 1) * sizeof *r->plugins);
        r->plugins[r->n].desc = d;
        r->plugins[r->n].path = nb_xstrdup(path);
        r->n++;
    }
out:
    if (rc != NB_OK || r->n == first_new) {
        /* roll back this file's registrations, then close it */
        while (r->n > first_new) free(r->plugins[--r->n].path);
        dlclose(h);
        if (rc == NB_OK && r->n == first_new) return NB_OK; /* nothing new (all shadowed) */
        return rc;
    }
    r->handles = nb_xrealloc(r->handles, (size_t)(r->n_handles + 1) * sizeof *r->handles);
    r->handles[r->n_handles++] = h;
    return NB_OK;
}

/* Child side of probe_files: open path and read every descriptor and
 * string the host will read (until the first invalid one). */
static void probe_one(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    nb_descriptor_fn fn;
    if (!h) return;
    *(void **)&fn = dlsym(h, NB_DESCRIPTOR_SYMBOL);
    for (uint32_t i = 0; fn && i < NB_MAX_DESCRIPTORS; i++) {
        const nb_plugin_desc *d = fn(i);
        char *err = NULL;
        if (!d) return;
        if (plugin_validate(d, path, &err) != NB_OK) {
            free(err);
            return;
        }
        volatile size_t n = strlen(d->version ? d->version : "") +
                            strlen(d->description ? d->description : "");
        for (int k = 0; d->params && d->params[k].name; k++)
            n += strlen(d->params[k].help ? d->params[k].help : "") +
                 strlen(d->params[k].choices ? d->params[k].choices : "");
        (void)n;
    }
}

/* Load paths[0..n) in a child process, which reports each file it is done
 * with on a pipe. NB_OK when it went through all of them; otherwise the
 * message names the file it was on and how the child ended. */
static int probe_files(char *const *paths, int n, char **err)
{
    int fds[2], done = 0, timed_out = 0, wst = 0;
    pid_t parent = getpid(), pid;
    if (n <= 0 || pipe(fds) != 0) return NB_OK; /* nothing to do, or load unprotected */
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return NB_OK;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        /* a crash while probing is reported by its signal: restore the default
         * actions a runtime may have replaced (AddressSanitizer catches SIGSEGV
         * and exits with a report instead) */
        static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
        for (size_t k = 0; k < sizeof fatal / sizeof fatal[0]; k++) signal(fatal[k], SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        close(fds[0]);
        if (null >= 0) dup2(null, STDOUT_FILENO), dup2(null, STDERR_FILENO);
        for (int i = 0; i < n; i++) {
            probe_one(paths[i]);
            if (write(fds[1], "+", 1) != 1) _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    while (done < n) {
        struct pollfd pf = {fds[0], POLLIN, 0};
        char buf[64];
        int r = poll(&pf, 1, PROBE_SECONDS * 1000);
        if (r == 0) {
            kill(pid, SIGKILL);
            timed_out = 1;
            break;
        }
        ssize_t got = r > 0 ? read(fds[0], buf, sizeof buf) : -1;
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        done += (int)got;
    }
    close(fds[0]);
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
    }
    if (done >= n) return NB_OK;
    if (timed_out)
        return nb_fail(err, NB_EINVAL, "%s: loading the plugin did not finish within %d s "
                       "(a constructor or nb_plugin_descriptor that never returns?)",
                       paths[done], PROBE_SECONDS);
    if (WIFSIGNALED(wst))
        return nb_fail(err, NB_EINVAL, "%s: the plugin crashed while loading (signal %d, %s)",
                       paths[done], WTERMSIG(wst), strsignal(WTERMSIG(wst)));
    return nb_fail(err, NB_EINVAL, "%s: the plugin ended the process while loading (exit "
                   "status %d)", paths[done], WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
}

int registry_load_file(nb_registry *r, const char *path, char **err)
{
    char *one = (char *)path;
    int rc = probe_files(&one, 1, err);
    return rc ? rc : load_file(r, path, 0, err);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(nb_registry *r, const char *dir, int dup_from, char **err)
{
    DIR *dp = opendir(dir);
    if (!dp) return NB_OK;
    char **names = NULL;
    int n = 0, rc = NB_OK;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (!ends_with(e->d_name, ".so")) continue;
        names = nb_xrealloc(names, (size_t)(n + 1) * sizeof *names);
        names[n++] = nb_strf("%s/%s", dir, e->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, cmp_str); /* deterministic order */
    rc = probe_files(names, n, err);
    for (int i = 0; i < n && rc == NB_OK; i++) rc = load_file(r, names[i], dup_from, err);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int registry_load_dir(nb_registry *r, const char *dir, char **err)
{
    return load_dir(r, dir, r->n, err);
}

int registry_load_default(nb_registry *r, char **err)
{
    int rc = NB_OK;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *dir = nb_dirname(exe);
        const char *sub[] = { "plugins/models/.libs", "plugins/samplers/.libs" };
        for (int i = 0; i < 2 && rc == NB_OK; i++) {
            char *p = nb_strf("%s/%s", dir, sub[i]);
            rc = registry_load_dir(r, p, err);
            free(p);
        }
        free(dir);
    }
    const char *env = getenv("NEGBENCH_PLUGIN_PATH");
    if (env && rc == NB_OK) {
        char *copy = nb_xstrdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d && rc == NB_OK; d = strtok_r(NULL, ":", &save))
            if (*d) rc = registry_load_dir(r, d, err);
        free(copy);
    }
    if (rc == NB_OK && NB_PKGLIBDIR[0]) rc = registry_load_dir(r, NB_PKGLIBDIR, err);
    return rc;
}

const nb_plugin *registry_find(const nb_registry *r, int kind, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if ((int)r->plugins[i].desc->kind == kind && strcmp(r->plugins[i].desc->name, name) == 0)
            return &r->plugins[i];
    return NULL;
}

const char *registry_nearest(const nb_registry *r, int kind, const char *name)
{
    const char *best = NULL;
    int best_d = 4;
    for (int i = 0; i < r->n; i++) {
        if ((int)r->plugins[i].desc->kind != kind) continue;
        int dd = nb_edit_distance(name, r->plugins[i].desc->name);
        if (dd < best_d) { best_d = dd; best = r->plugins[i].desc->name; }
    }
    return best;
}

void registry_free(nb_registry *r)
{
    for (int i = 0; i < r->n; i++) free(r->plugins[i].path);
    free(r->plugins);
    for (int i = 0; i < r->n_handles; i++) dlclose(r->handles[i]);
    free(r->handles);
    memset(r, 0, sizeof *r);
}
