/* pocketsphinx 0.8+5prealpha from Debian (libpocketsphinx-dev, pocketsphinx-en-us): the decoder, and
 * sphinxbase's err.h for err_set_logfp (its name clashes with glibc's <err.h>, hence the full path). */
#ifndef FORMI_POCKETSPHINX_SHIM_H
#define FORMI_POCKETSPHINX_SHIM_H
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#endif
