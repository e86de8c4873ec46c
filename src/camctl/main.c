/* SPDX-License-Identifier: MIT */
/* camctl: command line, verb table and dispatch. */

#include <getopt.h>
#include <math.h>
#include <stdarg.h>

#include "camctl/client.h"
#include "config.h"

#define DEFAULT_TIMEOUT_SEC 300.0

enum {
        OPT_CAMERA = 1 << 0,
        OPT_SIZE = 1 << 1,
        OPT_FORMAT = 1 << 2,
        OPT_BURST = 1 << 3,
        OPT_QUALITY = 1 << 4,
        OPT_NO_DEFER = 1 << 5,
        OPT_WAIT = 1 << 6,
        OPT_OUTPUT = 1 << 7,
        OPT_ALL = 1 << 8,
        OPT_DENOISE = 1 << 9,
        OPT_SECONDS = 1 << 10,
        OPT_FRAMES = 1 << 11,
        OPT_ID = 1 << 12,
        OPT_SHARED = 1 << 13,
};

struct verb {
        const char *name;
        int min_args, max_args; /* positional arguments after the verb; -1 = any number */
        unsigned options;        /* OPT_* the verb takes */
        unsigned required;       /* OPT_* it needs */
        int (*run)(struct camctl *c, int argc, char **argv);
        bool subverb;            /* run gets the sub-verb as argv[0] */
};

static const struct verb verbs[] = {
        { "list", 0, 0, 0, 0, verb_list, false },
        { "info", 1, 1, 0, 0, verb_info, false },
        { "photo", 0, 0, OPT_CAMERA | OPT_SIZE | OPT_FORMAT | OPT_BURST | OPT_QUALITY | OPT_NO_DEFER | OPT_WAIT | OPT_OUTPUT
          | OPT_SHARED, 0, verb_photo, false },
        { "preview", 0, 0, OPT_CAMERA | OPT_SIZE | OPT_FORMAT | OPT_OUTPUT | OPT_SECONDS | OPT_FRAMES | OPT_SHARED, 0,
          verb_preview, false },
        { "record", 0, 0, OPT_CAMERA | OPT_SIZE | OPT_FORMAT | OPT_QUALITY | OPT_NO_DEFER | OPT_OUTPUT | OPT_SECONDS
          | OPT_SHARED, OPT_SECONDS | OPT_OUTPUT, verb_record, false },
        { "pending", 0, 0, 0, 0, verb_pending, false },
        { "process", 0, -1, OPT_ALL | OPT_WAIT, 0, verb_process, false },
        { "remove", 1, -1, 0, 0, verb_remove, false },
        { "fetch", 1, 1, OPT_OUTPUT, 0, verb_fetch, false },
        { "mode", 0, 1, 0, 0, verb_mode, false },
        { "status", 0, 0, 0, 0, verb_status, false },
        { "interrupt", 0, 0, 0, 0, verb_interrupt, false },
        { "reset", 0, 0, 0, 0, verb_reset, false },
        { "video process", 1, 1, OPT_OUTPUT | OPT_DENOISE | OPT_QUALITY | OPT_WAIT | OPT_ID, OPT_OUTPUT, verb_video, true },
        { "video pending", 0, 0, 0, 0, verb_video, true },
        { "video interrupt", 0, 0, 0, 0, verb_video, true },
        { "video resume", 1, 1, OPT_WAIT, 0, verb_video, true },
};

static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "system", no_argument, NULL, 'Y' },
        { "session", no_argument, NULL, 'S' },
        { "address", required_argument, NULL, 'A' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 'T' },
        { "camera", required_argument, NULL, 'c' },
        { "size", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "burst", required_argument, NULL, 'b' },
        { "quality", required_argument, NULL, 'q' },
        { "no-defer", no_argument, NULL, 'D' },
        { "wait", no_argument, NULL, 'w' },
        { "output", required_argument, NULL, 'o' },
        { "all", no_argument, NULL, 'a' },
        { "denoise", required_argument, NULL, 'N' },
        { "seconds", required_argument, NULL, 't' },
        { "frames", required_argument, NULL, 'n' },
        { "id", required_argument, NULL, 'I' },
        { "shared", no_argument, NULL, 'H' },
        {}
};

/* The OPT_* bit of a short option code, 0 for the global ones. */
static unsigned option_bit(int code) {
        switch (code) {
        case 'c': return OPT_CAMERA;
        case 's': return OPT_SIZE;
        case 'f': return OPT_FORMAT;
        case 'b': return OPT_BURST;
        case 'q': return OPT_QUALITY;
        case 'D': return OPT_NO_DEFER;
        case 'w': return OPT_WAIT;
        case 'o': return OPT_OUTPUT;
        case 'a': return OPT_ALL;
        case 'N': return OPT_DENOISE;
        case 't': return OPT_SECONDS;
        case 'n': return OPT_FRAMES;
        case 'I': return OPT_ID;
        case 'H': return OPT_SHARED;
        default: return 0;
        }
}

static const char *option_name(unsigned bit) {
        for (const struct option *o = long_options; o->name; o++)
                if (option_bit(o->val) == bit)
                        return o->name;
        return "?";
}

static void help(void) {
        printf("camctl [OPTIONS...] COMMAND ...\n\n"
               "Take photos and videos with camerad and manage its deferred processing.\n\n"
               "Cameras:\n"
               "  list                          Show the cameras\n"
               "  info CAMERA                   Show a camera and its formats\n"
               "Capture:\n"
               "  photo [-c C] [-s WxH] [-f F] [-b N] [-q Q] [--no-defer] [--wait] [-o FILE]\n"
               "                                Take a photo; the proxy at once, the final with --wait\n"
               "  preview [-c C] [-s WxH] [-f F] [-o FILE|-] [-n FRAMES] [-t SECONDS]\n"
               "                                Stream YUV4MPEG2 (camctl preview | ffplay -)\n"
               "  record -t SECONDS -o FILE.avi [-c C] [-s WxH] [-f F] [-q Q] [--no-defer]\n"
               "                                Record a Motion-JPEG AVI\n"
               "  (photo, preview, record --shared: join a camera other apps use, in its format)\n"
               "Image processing:\n"
               "  pending                       List images waiting for processing\n"
               "  process ID...|--all [--wait]  Process images now\n"
               "  remove ID...                  Delete images\n"
               "  fetch ID [-o FILE|-]          Save the best JPEG of an image\n"
               "  mode [MODE]                   Show or set the execution mode\n"
               "                                (high-performance, balanced, low-power)\n"
               "  status                        Show the processing state\n"
               "  interrupt                     Pause background image processing\n"
               "  reset                         Reset image processing\n"
               "Video processing:\n"
               "  video process IN.avi -o OUT.avi [--denoise X] [-q Q] [--id ID] [--wait]\n"
               "  video pending                 List videos waiting for processing\n"
               "  video interrupt               Stop the running video at the next frame\n"
               "  video resume ID [--wait]      Continue an interrupted video\n\n"
               "Options:\n"
               "  -h --help                     Show this help\n"
               "     --version                  Show the version\n"
               "     --system                   Use the system bus (default)\n"
               "     --session                  Use the session bus\n"
               "     --address=ADDR             Use the bus at ADDR\n"
               "     --json                     Print JSON on standard output\n"
               "     --timeout=SECONDS          Longest wait for --wait (default %.0f, 0 = none)\n\n"
               "CAMERA is an index from 'camctl list', an Id such as virtual:0, or an object path.\n"
               "Exit status: 0 ok, 1 camerad refused or failed, 2 usage, 3 no bus or no camerad,\n"
               "4 timeout, 5 access denied, 6 local file error, 130 interrupted.\n"
               "See camctl(1).\n",
               DEFAULT_TIMEOUT_SEC);
}

static int usage_error(const char *format, ...) _printf_(1, 2);
static int usage_error(const char *format, ...) {
        va_list ap;

        fputs("camctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputs("\nTry 'camctl --help'.\n", stderr);
        return CAMCTL_EXIT_USAGE;
}

static bool parse_uint(const char *s, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        if (!s[0] || s[0] == '-' || s[0] == '+')
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end || v == 0 || v > max)
                return false;
        *ret = (unsigned) v;
        return true;
}

static bool parse_double(const char *s, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end || !isfinite(v) || v < 0)
                return false;
        *ret = v;
        return true;
}

static bool parse_size(const char *s, unsigned *w, unsigned *h) {
        _cleanup_free_ char *copy = strdup(s);
        char *x = copy ? strchr(copy, 'x') : NULL;

        if (!x)
                return false;
        *x = '\0';
        return parse_uint(copy, 16384, w) && parse_uint(x + 1, 16384, h);
}

static int parse_args(int argc, char **argv, struct camctl_args *a, unsigned *given) {
        int code;

        *a = (struct camctl_args) { .denoise = -1, .seconds = -1, .timeout = DEFAULT_TIMEOUT_SEC };
        *given = 0;
        while ((code = getopt_long(argc, argv, "hc:s:f:b:q:wo:at:n:", long_options, NULL)) >= 0) {
                unsigned frames;

                *given |= option_bit(code);
                switch (code) {
                case 'h':
                        help();
                        return -1;
                case 'V':
                        printf("camctl %s\n", CAMERAD_VERSION);
                        return -1;
                case 'Y': a->bus_kind = CAMCTL_BUS_SYSTEM; break;
                case 'S': a->bus_kind = CAMCTL_BUS_SESSION; break;
                case 'A':
                        a->bus_kind = CAMCTL_BUS_ADDRESS;
                        a->address = optarg;
                        break;
                case 'j': a->json = true; break;
                case 'T':
                        if (!parse_double(optarg, &a->timeout))
                                return usage_error("--timeout needs seconds, not '%s'", optarg);
                        break;
                case 'c': a->camera = optarg; break;
                case 's':
                        if (!parse_size(optarg, &a->width, &a->height))
                                return usage_error("--size needs WIDTHxHEIGHT such as 1280x720, not '%s'", optarg);
                        break;
                case 'f':
                        if (strlen(optarg) != 4)
                                return usage_error("--format needs a fourcc such as YUYV or NV12, not '%s'", optarg);
                        a->format = optarg;
                        break;
                case 'b':
                        if (!parse_uint(optarg, UINT32_MAX, &a->burst))
                                return usage_error("--burst needs a positive number of frames, not '%s'", optarg);
                        break;
                case 'q':
                        if (!parse_uint(optarg, UINT32_MAX, &a->quality))
                                return usage_error("--quality needs a number from 1 to 100, not '%s'", optarg);
                        break;
                case 'D': a->no_defer = true; break;
                case 'w': a->wait = true; break;
                case 'o': a->output = optarg; break;
                case 'a': a->all = true; break;
                case 'N':
                        if (!parse_double(optarg, &a->denoise))
                                return usage_error("--denoise needs a number such as 0.6, not '%s'", optarg);
                        break;
                case 't':
                        if (!parse_double(optarg, &a->seconds) || a->seconds <= 0)
                                return usage_error("--seconds needs a positive number, not '%s'", optarg);
                        break;
                case 'n':
                        if (!parse_uint(optarg, UINT32_MAX, &frames))
                                return usage_error("--frames needs a positive number, not '%s'", optarg);
                        a->frames = frames;
                        break;
                case 'I':
                        a->id = optarg;
                        break;
                case 'H': a->shared = true; break;
                default:
                        return CAMCTL_EXIT_USAGE; /* getopt printed why */
                }
        }
        return 0;
}

static const struct verb *find_verb(int argc, char **argv, int *consumed) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const char *space = strchr(verbs[i].name, ' ');
                if (!space) {
                        if (streq(argv[0], verbs[i].name)) {
                                *consumed = 1;
                                return &verbs[i];
                        }
                } else if (argc >= 2 && strncmp(argv[0], verbs[i].name, (size_t) (space - verbs[i].name)) == 0 &&
                           argv[0][space - verbs[i].name] == '\0' && streq(argv[1], space + 1)) {
                        *consumed = 2;
                        return &verbs[i];
                }
        }
        return NULL;
}

int main(int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct camctl_args args;
        struct camctl c;
        const struct verb *v;
        unsigned given;
        int r, consumed, n_args;
        char **rest;

        r = parse_args(argc, argv, &args, &given);
        if (r != 0)
                return r < 0 ? 0 : r;

        rest = argv + optind;
        n_args = argc - optind;
        if (n_args == 0)
                return usage_error("%s", "no command given");
        v = find_verb(n_args, rest, &consumed);
        if (!v) {
                if (streq(rest[0], "video"))
                        return usage_error("unknown video command '%s' (process, pending, interrupt, resume)",
                                           n_args > 1 ? rest[1] : "");
                return usage_error("unknown command '%s'", rest[0]);
        }
        n_args -= consumed;
        if (n_args < v->min_args || (v->max_args >= 0 && n_args > v->max_args))
                return usage_error("wrong number of arguments for '%s'", v->name);
        for (unsigned bit = 1; bit <= OPT_SHARED; bit <<= 1) {
                if ((given & bit) && !(v->options & bit)) {
                        fprintf(stderr, "camctl: '%s' takes no --%s\n", v->name, option_name(bit));
                        return CAMCTL_EXIT_USAGE;
                }
                if ((v->required & bit) && !(given & bit)) {
                        fprintf(stderr, "camctl: '%s' needs --%s\n", v->name, option_name(bit));
                        return CAMCTL_EXIT_USAGE;
                }
        }
        if (v->run == verb_process && (n_args > 0) == args.all)
                return usage_error("%s", "'process' needs image ids or --all, not both");
        if (v->run == verb_record && streq(args.output, "-"))
                return usage_error("%s", "'record' needs a file: camerad seeks back to write the AVI index");

        r = camctl_connect(&args, &bus);
        if (r != 0)
                return r;
        c = (struct camctl) { .bus = bus, .args = &args };
        if (v->subverb)
                return v->run(&c, n_args + 1, rest + consumed - 1);
        return v->run(&c, n_args, rest + consumed);
}
