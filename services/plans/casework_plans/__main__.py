import sys

from casework_common.launch import main

sys.exit(
    main(
        "plans",
        sys.argv,
        api="casework_plans.entrypoints.api:register",
        access="casework_plans.entrypoints.access:ACCESS",
        events="casework_plans.entrypoints.events:PlansEvents",
    )
)
