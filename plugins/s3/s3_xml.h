/* s3_xml.h — just enough XML for S3's answers (ListObjectsV2, errors,
 * multipart, DeleteObjects): the text of an element, found by name, with
 * the five entities and numeric references decoded. Bounded by the body it
 * is given; never allocates more than the element's text. */
#ifndef ARCA_S3_XML_H
#define ARCA_S3_XML_H

#include <stddef.h>

/* The first <tag>...</tag> in [p, end): inner and inner_end bound its raw
 * content. Returns 0, or -1 when absent. */
int s3_xml_find(const char *p, const char *end, const char *tag, const char **inner,
                const char **inner_end);
/* The decoded text of the first <tag> in [p, end), malloc'd; NULL absent. */
char *s3_xml_text(const char *p, const char *end, const char *tag);
/* s XML-escaped, malloc'd (for DeleteObjects' keys). */
char *s3_xml_escape(const char *s);

#endif
