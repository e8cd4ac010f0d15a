# steps: patch main
# >>> exercise: capstone-cancel
# --- stub
# steps: edit from marketsvc.schemas
#-    CancelledOrderOut,
# steps: delete cancel_order
# <<< exercise: capstone-cancel
