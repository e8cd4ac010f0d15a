# steps: patch main
# >>> exercise: capstone-cancel
# --- stub
# steps: edit __doc__
#-exists without its order, nor the order without its key; cancelling the
#-order deletes its keys in the same way (forget_order). Keys are kept
#+exists without its order, nor the order without its key. Keys are kept
# steps: delete forget_order
# <<< exercise: capstone-cancel
