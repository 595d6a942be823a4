/* version.h — the one place the version is written (ksmplusd, ksmplusctl,
 * the ksmplus_info metric). */
#ifndef KSMPLUS_VERSION_H
#define KSMPLUS_VERSION_H
#define KSMPLUS_VERSION "0.1.0"
#endif
