{#- The column holds every (non-null) value of another model's column: the reverse of
    `relationships`. E.g. every track in dim_track is in the search mart. Fails on the values
    that are missing. -#}
{% test covers_all_values_of(model, column_name, to, field) %}
select expected.{{ field }} as missing_value
from {{ to }} as expected
left anti join {{ model }} as covering
    on covering.{{ column_name }} = expected.{{ field }}
where expected.{{ field }} is not null
{% endtest %}
