import sys

from casework_common.launch import main

sys.exit(
    main(
        "feedback",
        sys.argv,
        api="casework_feedback.entrypoints.api:register",
        events="casework_feedback.entrypoints.events:FeedbackEvents",
    )
)
