"""``python -m course_site``: build the course site (see ``course_site.build``)."""

from course_site.build import main

raise SystemExit(main())
