/*
 * plot.c - negbench plot's files and rendering (see plot.h): the data file,
 * the gnuplot script (PNG through pngcairo, then SVG with replot) and the
 * gnuplot run.
 */
#define _GNU_SOURCE
#include "plot.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "negbench/plugin.h"
#include "util.h"

int plot_block(plot_ctx *p, const char *title)
{
    if (p->blocks) fputs("\n\n", p->dat);
    fprintf(p->dat, "# %s\n", title);
    return p->blocks++;
}

/* Append formatted text to *s with a separator when not empty. */
static void append(char **s, const char *sep, const char *fmt, va_list ap)
{
    char *t = nb_vstrf(fmt, ap);
    char *n = nb_strf("%s%s%s", *s ? *s : "", *s ? sep : "", t);
    free(*s);
    free(t);
    *s = n;
}

void plot_panel(plot_ctx *p, const char *title)
{
    p->panels = nb_xrealloc(p->panels, (size_t)(p->n_panels + 1) * sizeof *p->panels);
    p->titles = nb_xrealloc(p->titles, (size_t)(p->n_panels + 1) * sizeof *p->titles);
    p->panels[p->n_panels] = NULL;
    p->titles[p->n_panels++] = title ? nb_xstrdup(title) : NULL;
}

void plot_clause(plot_ctx *p, const char *fmt, ...)
{
    va_list ap;
    if (!p->n_panels) plot_panel(p, NULL);
    va_start(ap, fmt);
    append(&p->panels[p->n_panels - 1], ", \\\n     ", fmt, ap);
    va_end(ap);
}

static void ctx_free(plot_ctx *p)
{
    for (int i = 0; i < p->n_panels; i++) {
        free(p->panels[i]);
        free(p->titles[i]);
    }
    free(p->panels);
    free(p->titles);
    free(p->settings);
}

/* The settings and plot commands of p (a multiplot when it has titled
 * panels), for the current terminal. */
static void write_body(FILE *f, const plot_ctx *p)
{
    int multi = p->n_panels > 1 || (p->n_panels == 1 && p->titles[0]);
    int cols = p->n_panels > 3 ? 3 : p->n_panels, rows = cols ? (p->n_panels + cols - 1) / cols : 1;
    fprintf(f, "set datafile separator \"\\t\"\nset key outside right top\n%s\n",
            p->settings ? p->settings : "");
    if (multi) fprintf(f, "set key inside right top\nset multiplot layout %d,%d\n", rows, cols);
    for (int i = 0; i < p->n_panels; i++) {
        if (multi) fprintf(f, "set title \"%s\"\n", p->titles[i] ? p->titles[i] : "");
        fprintf(f, "plot %s\n", p->panels[i] ? p->panels[i] : "NaN notitle");
    }
    if (!p->n_panels) fputs("plot NaN notitle\n", f);
    if (multi) fputs("unset multiplot\n", f);
}

void plot_set(plot_ctx *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(&p->settings, "\n", fmt, ap);
    va_end(ap);
}

/* The kind's data writer, or NULL. */
static int (*kind_fn(const char *kind))(rp_set *, const nb_plot_opts *, plot_ctx *, char **)
{
    if (!strcmp(kind, "curves")) return plot_curves;
    if (!strcmp(kind, "maxmin")) return plot_maxmin;
    if (!strcmp(kind, "histogram")) return plot_histogram;
    if (!strcmp(kind, "sensitivity")) return plot_sensitivity;
    if (!strcmp(kind, "per")) return plot_per;
    if (!strcmp(kind, "efficiency")) return plot_efficiency;
    return NULL;
}

static int write_script(const char *path, const plot_ctx *p, char **err)
{
    FILE *f = fopen(path, "w");
    if (!f) return nb_fail(err, NB_ERR, "%s: cannot write: %m", path);
    fprintf(f, "# %s.gp - written by negbench plot %s; edit and render with: gnuplot %s.gp\n"
            "# (data: %s.dat, one block per series, titled on its first line)\n", p->name,
            p->name, p->name, p->name);
    int h = p->n_panels > 3 ? 400 * ((p->n_panels + 2) / 3) : 600;
    fprintf(f, "set terminal pngcairo size 1200,%d noenhanced\nset output \"%s.png\"\n", h,
            p->name);
    write_body(f, p);
    fprintf(f, "set output\nset terminal svg size 1200,%d noenhanced\nset output \"%s.svg\"\n",
            h, p->name);
    write_body(f, p);
    fputs("set output\n", f);
    int bad = ferror(f) | (fclose(f) != 0);
    return bad ? nb_fail(err, NB_ERR, "%s: write error", path) : NB_OK;
}

/* Run gnuplot SCRIPT in dir; 1 rendered, 0 not installed, < 0 failed. */
static int render(const char *dir, const char *name, char **err)
{
    char *cmd = nb_strf("command -v gnuplot >/dev/null 2>&1 || exit 127; cd '%s' && "
                        "gnuplot '%s.gp'", dir, name);
    int st = system(cmd);
    free(cmd);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return nb_fail(err, NB_ERR, "%s/%s.gp: gnuplot failed (status %d)", dir, name, st);
    return 1;
}

int plot_make(rp_set *set, const nb_plot_opts *o, const char *dir, int *rendered, char **err)
{
    int (*fn)(rp_set *, const nb_plot_opts *, plot_ctx *, char **) = kind_fn(o->kind);
    plot_ctx p = {.name = o->kind};
    char *dat = nb_strf("%s/%s.dat", dir, o->kind), *gp = nb_strf("%s/%s.gp", dir, o->kind);
    int status = NB_OK;
    *rendered = 0;
    if (!fn) {
        status = nb_fail(err, NB_EINVAL, "plot: unknown kind \"%s\" (curves, sensitivity, "
                         "histogram, maxmin, per, efficiency)", o->kind);
        goto out;
    }
    if (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0) {
        status = nb_fail(err, NB_ERR, "%s: cannot create the output directory: %m", dir);
        goto out;
    }
    if (!(p.dat = fopen(dat, "w"))) {
        status = nb_fail(err, NB_ERR, "%s: cannot write: %m", dat);
        goto out;
    }
    fprintf(p.dat, "# %s.dat - written by negbench plot %s (tab-separated)\n", o->kind, o->kind);
    status = fn(set, o, &p, err);
    if (fclose(p.dat) != 0 && !status) status = nb_fail(err, NB_ERR, "%s: write error", dat);
    if (!status && !p.blocks)
        status = nb_fail(err, NB_EINVAL, "plot %s: no data in the store(s) for it", o->kind);
    if (!status) status = write_script(gp, &p, err);
    if (!status) {
        int r = render(dir, o->kind, err);
        if (r < 0) status = r;
        else *rendered = r;
    }
out:
    ctx_free(&p);
    free(dat);
    free(gp);
    return status;
}
